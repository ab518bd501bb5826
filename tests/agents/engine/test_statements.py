"""How many SQL statements a run costs, claim to `done`, for each route (issue: the event path at the floor).

A run's writes go out in few transactions: its events by group commit, with
the rows and counters that wait for them (agents, model calls, executions,
the plan) and the run's own updates folded into one fenced UPDATE per batch.
Counted at the cursor, from every thread (executors have their own
connections), on SQLite and on PostgreSQL, with the zero-latency stub model.
The cancel check reads the run at most every CANCEL_CHECK_INTERVAL; how many
such reads a run makes depends on how long it takes on a loaded machine, not
on its work, so the interval is set beyond the run here.
"""

import pytest

from agents.engine import cancel
from agents.models import AgentMessage, Execution, PlanStep, Run, RunEvent
from agents.runs import services
from agents.runtime import worker
from tests.support.statements import count_statements
from tests.support.stub_model import Text, ToolCalls, is_executor, is_routing, plan

LIMITS = {"simple": 12, "tool": 16, "complex": 40}


def script(stub_model, route: str) -> None:
    if route == "simple":
        stub_model.queue(Text("Hello there, nice to meet you."))
    elif route == "tool":
        stub_model.queue(ToolCalls([("calculate", {"expression": "2+2"})]), Text("It is 4."))
    else:

        def reply(request):
            if is_routing(request):
                return plan("Compare", [("x", "Research X"), ("y", "Research Y", ["x"])])
            if is_executor(request):
                return Text("Findings")
            return Text("The final answer.")

        stub_model.responder = reply


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["simple", "tool", "complex"])
def test_a_run_costs_at_most_its_statement_limit(stub_model, user, route, monkeypatch):
    monkeypatch.setattr(cancel, "CANCEL_CHECK_INTERVAL", 3600.0)
    worker.ensure_maintenance()  # started before counting (its own statements are never counted)
    script(stub_model, route)
    run, _ = services.run_create(user=user, message=f"a {route} question")
    with count_statements() as statements:
        worker.execute_run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.route) == (Run.Status.COMPLETED, route)
    print(f"{route}: {len(statements)} statements")
    assert len(statements) <= LIMITS[route], f"{len(statements)} statements:\n{statements}"
    # Nothing was left out to get there: every event, model call, execution and counter is stored.
    types = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("type", flat=True))
    assert types[0] == "session" and types[-1] == "done" and "analysis" in types
    assert list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", flat=True)) == list(
        range(1, len(types) + 1)
    )
    calls = AgentMessage.objects.filter(run=run, role=AgentMessage.Role.ASSISTANT)
    assert calls.count() == run.llm_calls == len(stub_model.requests)
    assert run.total_tokens == sum(m.prompt_tokens + m.completion_tokens for m in calls) > 0
    assert run.assistant_message.content
    if route == "complex":
        assert Execution.objects.filter(run=run, status=Execution.Status.COMPLETED).count() == 2
        assert set(PlanStep.objects.filter(plan__run=run).values_list("status", flat=True)) == {"completed"}
