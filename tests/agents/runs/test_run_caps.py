"""AGENT_RUN_MAX_TOKENS is checked before every model call: the call that would pass it is not made.

Each case brings a run near its cap with the stub's reported usage, then
checks that the next call (an executor's, the replanning call, the synthesis)
never reached the stub and that the run ended `done` `failed` with
`run_token_limit`.
"""

import pytest

from agents.models import Execution, PlanStep, Run, RunEvent
from tests.factories import run_message
from tests.support.stub_model import Text, ToolCalls, is_executor, is_replanning, is_routing, is_synthesis, plan

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 5000


def assert_stopped_by_the_cap(run: Run) -> None:
    events = [event.data for event in RunEvent.objects.filter(run=run).order_by("seq")]
    assert run.status == Run.Status.FAILED and run.error_code == "run_token_limit"
    assert [e["type"] for e in events][-2:] == ["error", "done"]
    assert events[-2]["code"] == "run_token_limit" and events[-2]["fatal"] is True
    assert events[-1]["status"] == "failed" and events[-1]["message_id"] is None
    assert run.total_tokens <= CAP
    assert not [e for e in events if e["type"] == "text"], "no answer was written"


def test_an_executor_call_that_would_pass_the_cap_is_not_made(settings, user, stub_model, asgi_live_server):
    settings.AGENT_RUN_MAX_TOKENS = CAP
    routing = plan("Two things", [("x", "Do x"), ("y", "Do y")])
    routing.usage = (4000, 900)  # 4900 used: any executor's prompt passes 5000
    stub_model.queue(routing)
    client = asgi_live_server.client(user)
    with client.send("do two things") as stream:
        events = stream.events()
    run = Run.objects.get(pk=events[0]["run_id"])

    assert len(stub_model.requests) == 1 and is_routing(stub_model.requests[0]), "no executor call reached the model"
    assert events[-1]["type"] == "done" and events[-1]["status"] == "failed"
    assert_stopped_by_the_cap(run)
    assert run.total_tokens == 4900
    assert not Execution.objects.filter(run=run, llm_calls__gt=0).exists()


def test_the_synthesis_call_that_would_pass_the_cap_is_not_made(settings, user, stub_model):
    settings.AGENT_RUN_MAX_TOKENS = CAP

    def reply(request):
        if is_routing(request):
            call = plan("One thing", [("x", "Do x")])
            call.usage = (2000, 500)
            return call
        if is_executor(request):
            return Text("x is done.", usage=(2000, 400))  # 4900 used: the synthesis prompt passes 5000
        return Text("The answer.")

    stub_model.responder = reply
    run = run_message(user, "do one thing")

    assert not [r for r in stub_model.requests if is_synthesis(r)], "the synthesis call was not made"
    assert len(stub_model.requests) == 2
    assert_stopped_by_the_cap(run)
    assert run.total_tokens == 4900
    assert PlanStep.objects.get(plan__run=run, key="x").status == "completed"


def test_the_replanning_call_that_would_pass_the_cap_is_not_made(settings, user, stub_model):
    settings.AGENT_RUN_MAX_TOKENS = CAP
    settings.AGENT_MAX_ITERATIONS = 1  # the executor's one call asks for a tool: it stalls, and its step fails

    def reply(request):
        if is_routing(request):
            call = plan("One thing", [("x", "Do x")])
            call.usage = (2000, 500)
            return call
        if is_executor(request):
            return ToolCalls([("calculate", {"expression": "1+1"})], usage=(2000, 400))  # 4900 used
        return Text("unreachable")

    stub_model.responder = reply
    run = run_message(user, "do one thing")

    assert len([r for r in stub_model.requests if is_executor(r)]) == 1
    assert not [r for r in stub_model.requests if is_replanning(r) or is_synthesis(r)], "no later call was made"
    assert_stopped_by_the_cap(run)
    assert run.total_tokens == 4900
    assert PlanStep.objects.get(plan__run=run, key="x").status == "failed"
