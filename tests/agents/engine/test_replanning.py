"""Replanning (docs/architecture.md#replanning): a failed or stalled step lets the planner revise the plan.

Driven like the other engine tests: the real engine, the real openai SDK, the
stub model over HTTP. Completed steps are counted in executions and in the
executor calls the stub received: a kept step is never run again.
"""

import threading

import pytest
from django.urls import reverse

from agents.models import Execution, Plan, PlanStep, Run
from agents.runtime import worker
from tests.factories import make_run, run_message, stored_events, types
from tests.support.live_server import wait_until
from tests.support.stub_model import (
    Error,
    Text,
    ToolCalls,
    is_executor,
    is_replanning,
    is_routing,
    is_synthesis,
    last_user_text,
    plan,
    revise,
)

pytestmark = pytest.mark.django_db(transaction=True)


def step_title(request: dict) -> str:
    return last_user_text(request).splitlines()[0].removeprefix("Step: ")


class Script:
    """A responder: plan a, b and c (after b); executors answer by title; replanning and synthesis as given."""

    def __init__(self, *, failing: set[str], replans: list, synthesis: str = "Final answer."):
        self.failing = failing
        self.replans = list(replans)
        self.synthesis = synthesis
        self.executed: list[str] = []
        self.replanning: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, request: dict):
        if is_routing(request):
            return plan("Find things", [("a", "Find A"), ("b", "Find B"), ("c", "Use B", ["b"])])
        if is_replanning(request):
            with self.lock:
                self.replanning.append(request)
                return self.replans.pop(0)
        if is_executor(request):
            title = step_title(request)
            with self.lock:
                self.executed.append(title)
            if title in self.failing:
                return Error(400, "this step cannot be done")
            return Text(f"Result of {title}; it saw: {last_user_text(request)!r}")
        assert is_synthesis(request)
        return Text(self.synthesis)


def test_a_failed_step_is_replanned_completed_steps_are_kept_and_new_steps_run(user, stub_model):
    script = Script(
        failing={"Find B"},
        replans=[revise("Find things another way", [("b2", "Find B elsewhere", ["a"]), ("c2", "Use B", ["b2"])])],
    )
    stub_model.responder = script
    run = run_message(user, "find things")
    events = stored_events(run)

    assert run.status == Run.Status.COMPLETED and run.assistant_message.content == "Final answer."
    # Every step ran exactly once: a (kept, never again), b (failed), then the revision's b2 and c2.
    assert sorted(script.executed) == ["Find A", "Find B", "Find B elsewhere", "Use B"]
    executions = list(Execution.objects.filter(run=run).values_list("step__key", "status"))
    assert sorted(executions) == [("a", "completed"), ("b", "failed"), ("b2", "completed"), ("c2", "completed")]

    # The planner saw every step's result and was offered revise_plan only.
    [request] = script.replanning
    assert [tool["function"]["name"] for tool in request["tools"]] == ["revise_plan"]
    asked = last_user_text(request)
    assert "- a (Find A) [completed]: Result of Find A" in asked
    assert "- b (Find B) [failed]:" in asked and "- c (Use B) after b [skipped]:" in asked

    # plan_revised: after the failure, before the new steps; the kept step carries its result.
    kinds = types(events)
    assert kinds.count("plan_created") == 1 and kinds.count("plan_revised") == 1
    revised = events[kinds.index("plan_revised")]
    failed_at = max(i for i, e in enumerate(events) if e["type"] == "step_complete" and e["step"]["key"] == "c")
    b2_start = next(i for i, e in enumerate(events) if e["type"] == "step_start" and e["step"]["key"] == "b2")
    assert failed_at < kinds.index("plan_revised") < b2_start
    steps = {step["key"]: step for step in revised["plan"]["steps"]}
    assert list(steps) == ["a", "b2", "c2"]
    assert steps["a"]["status"] == "completed" and steps["a"]["result"].startswith("Result of Find A")
    assert steps["b2"]["status"] == "pending" and steps["b2"]["depends_on"] == [steps["a"]["id"]]
    assert steps["c2"]["depends_on"] == [steps["b2"]["id"]]
    assert revised["plan"]["version"] == 2 and revised["plan"]["objective"] == "Find things another way"
    assert "Find B" in revised["reason"] and "failed" in revised["reason"]

    # b2 depended on the kept a: its executor got a's result.
    b2_task = Execution.objects.get(run=run, step__key="b2").task
    assert "Result of Find A" in b2_task

    # Stored as a new version linked to the old one; the run's plan is the newest.
    first, second = Plan.objects.filter(run=run).order_by("version")
    assert second.previous == first and second.version == 2 and run.plan == second
    assert second.revision_reason == revised["reason"]
    kept = second.steps.get(key="a")
    assert kept.kept_from == first.steps.get(key="a") and kept.status == "completed"
    assert dict(first.steps.values_list("key", "status")) == {"a": "completed", "b": "failed", "c": "skipped"}
    assert not Execution.objects.filter(step=kept).exists(), "a kept step has no execution of its own"
    # The answer is written from the newest version's steps.
    [synthesis] = [r for r in stub_model.requests if is_synthesis(r)]
    assert "Find B elsewhere [completed]" in last_user_text(synthesis)


def test_replanning_stops_at_AGENT_MAX_REPLANS(user, stub_model, settings):
    settings.AGENT_MAX_REPLANS = 2
    script = Script(
        failing={"Find B", "Try B again", "Try B once more"},
        replans=[revise("Again", [("b2", "Try B again")]), revise("Once more", [("b3", "Try B once more", ["a"])])],
    )
    stub_model.responder = script
    run = run_message(user, "find things")
    events = stored_events(run)

    assert len(script.replanning) == 2, "asked twice, not a third time"
    assert "Revisions left after this one: 1." in last_user_text(script.replanning[0])
    assert "Revisions left after this one: 0." in last_user_text(script.replanning[1])
    assert types(events).count("plan_revised") == 2
    assert list(Plan.objects.filter(run=run).order_by("version").values_list("version", flat=True)) == [1, 2, 3]
    assert script.executed.count("Find A") == 1
    assert run.status == Run.Status.COMPLETED and run.assistant_message.content == "Final answer."
    newest = run.plan
    assert dict(newest.steps.values_list("key", "status")) == {"a": "completed", "b3": "failed"}


def test_no_replanning_when_AGENT_MAX_REPLANS_is_0(user, stub_model, settings):
    settings.AGENT_MAX_REPLANS = 0
    script = Script(failing={"Find B"}, replans=[])
    stub_model.responder = script
    run = run_message(user, "find things")
    assert script.replanning == [] and "plan_revised" not in types(stored_events(run))
    assert run.status == Run.Status.COMPLETED and Plan.objects.filter(run=run).count() == 1


def test_the_planner_may_decline_and_synthesis_goes_on(user, stub_model):
    script = Script(failing={"Find B"}, replans=[Text("The result of A is enough for this.")])
    stub_model.responder = script
    run = run_message(user, "find things")
    events = stored_events(run)

    assert len(script.replanning) == 1
    assert "plan_revised" not in types(events)
    assert run.status == Run.Status.COMPLETED and run.assistant_message.content == "Final answer."
    answer = "".join(e["delta"] for e in events if e["type"] == "text")
    assert answer == "Final answer.", "the planner's decline is not part of the answer"
    thinking = [e for e in events if e["type"] == "thinking" and e["agent_kind"] == "planner"]
    assert "".join(e["delta"] for e in thinking) == "The result of A is enough for this."
    assert Plan.objects.get(run=run).revision_declined is True
    assert sorted(script.executed) == ["Find A", "Find B"]


def test_an_invalid_revision_goes_back_to_the_planner_as_a_tool_error(user, stub_model):
    script = Script(
        failing={"Find B"},
        replans=[
            revise("Broken", [("b2", "Find B elsewhere", ["nowhere"])]),
            revise("Fixed", [("b2", "Find B elsewhere", ["a"])]),
        ],
    )
    stub_model.responder = script
    run = run_message(user, "find things")
    events = stored_events(run)

    assert len(script.replanning) == 2
    tool_reply = script.replanning[1]["messages"][-1]
    assert tool_reply["role"] == "tool" and "unknown step 'nowhere'" in tool_reply["content"]
    errors = [e for e in events if e["type"] == "error"]
    assert [(e["code"], e["fatal"]) for e in errors] == [("invalid_plan", False)]
    assert types(events).count("plan_revised") == 1 and run.status == Run.Status.COMPLETED
    assert "Find B elsewhere" in script.executed


def test_a_stalled_executor_triggers_replanning(user, stub_model, settings):
    settings.AGENT_MAX_ITERATIONS = 2
    replanning = []

    def reply(request):
        if is_routing(request):
            return plan("Count", [("a", "Find A"), ("s", "Stall here")])
        if is_replanning(request):
            replanning.append(request)
            return revise("Count differently", [("s2", "Count once", ["a"])])
        if is_executor(request):
            if step_title(request) == "Stall here":
                return ToolCalls([("calculate", {"expression": "1+1"})])  # never answers
            return Text(f"Done: {step_title(request)}")
        return Text("Final.")

    stub_model.responder = reply
    run = run_message(user, "count")
    events = stored_events(run)

    assert len(replanning) == 1
    [revised] = [e for e in events if e["type"] == "plan_revised"]
    assert "Stall here" in revised["reason"] and "stalled" in revised["reason"]
    assert [step["key"] for step in revised["plan"]["steps"]] == ["a", "s2"]
    stalled = Execution.objects.get(run=run, step__key="s")
    assert stalled.status == "failed" and stalled.llm_calls == 2
    assert run.status == Run.Status.COMPLETED and run.plan.steps.get(key="s2").status == "completed"


# --- Resumed after a lost attempt ----------------------------------------------------------


@pytest.fixture
def undrained():
    yield
    worker.undrain()


@pytest.fixture(autouse=True)
def _no_background_sweeper():
    """Stop this process's maintenance thread: the resume tests hand runs over by hand."""
    worker.stop_maintenance()
    yield
    worker.stop_maintenance()


def test_a_run_lost_mid_replanning_resumes_without_running_completed_steps_again(stub_model, user, undrained):
    slow = threading.Event()
    slow.set()
    script = Script(failing={"Find B"}, replans=[])

    def reply(request):
        if is_replanning(request):
            script.replanning.append(request)
            if slow.is_set():  # the first attempt's replanning call streams slowly: the worker is drained in it
                call = revise("Slow", [("b2", "Find B elsewhere", ["a"])])
                call.fragments, call.chunk_delay = 200, 0.05
                return call
            return revise("Resumed", [("b2", "Find B elsewhere", ["a"])])
        return script(request)

    stub_model.responder = reply
    run = make_run(user, "find things")
    first = threading.Thread(target=worker.execute_run, args=(run.pk,))
    first.start()
    wait_until(lambda: len(script.replanning) == 1, "the planner is asked to revise", 15)
    assert worker.drain(seconds=0, handback_timeout=10), "the run was handed back"
    first.join(10)
    slow.clear()
    worker.undrain()
    worker.execute_run(run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.attempt == 2
    assert len(script.replanning) == 2, "the cut replanning call is made again"
    assert sorted(script.executed) == ["Find A", "Find B", "Find B elsewhere"], "no completed step ran again"
    kinds = types(stored_events(run))
    assert kinds.count("plan_created") == 1 and kinds.count("plan_revised") == 1 and kinds[-1] == "done"
    assert [e["seq"] for e in stored_events(run)] == list(range(1, len(kinds) + 1))
    assert run.plan.objective == "Resumed" and Plan.objects.filter(run=run).count() == 2


def test_a_run_lost_after_a_revision_resumes_the_new_version_keeping_its_steps(stub_model, user, undrained):
    slow = threading.Event()
    slow.set()
    script = Script(failing={"Find B"}, replans=[revise("Again", [("b2", "Find B elsewhere", ["a"])])])

    def reply(request):
        if is_executor(request) and step_title(request) == "Find B elsewhere" and slow.is_set():
            script.executed.append("Find B elsewhere")
            return Text("slow " * 200, chunks=200, chunk_delay=0.05)
        return script(request)

    stub_model.responder = reply
    run = make_run(user, "find things")
    first = threading.Thread(target=worker.execute_run, args=(run.pk,))
    first.start()
    wait_until(lambda: "Find B elsewhere" in script.executed, "the revised step runs", 15)
    wait_until(lambda: PlanStep.objects.filter(plan__run=run, key="b2", status="running").exists(), "b2 runs", 10)
    assert worker.drain(seconds=0, handback_timeout=10)
    first.join(10)
    slow.clear()
    worker.undrain()
    worker.execute_run(run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.attempt == 2
    assert script.executed.count("Find A") == 1 and script.executed.count("Find B") == 1
    assert script.executed.count("Find B elsewhere") == 2, "the cut step runs again"
    assert len(script.replanning) == 1, "the stored revision is not asked for again"
    kinds = types(stored_events(run))
    assert kinds.count("plan_revised") == 1 and kinds.count("plan_created") == 1
    statuses = sorted(Execution.objects.filter(run=run, step__key="b2").values_list("status", flat=True))
    assert statuses == ["completed", "interrupted"]
    assert dict(run.plan.steps.values_list("key", "status")) == {"a": "completed", "b2": "completed"}


def test_the_admin_shows_every_plan_version_and_how_they_link(user, stub_model, admin_client):
    stub_model.responder = Script(failing={"Find B"}, replans=[revise("Another way", [("b2", "Find B elsewhere")])])
    run = run_message(user, "find things")
    first, second = Plan.objects.filter(run=run).order_by("version")

    page = admin_client.get(reverse("admin:agents_run_change", args=[run.pk])).content.decode()
    assert "Version 1" in page and "Version 2" in page and "Find B" in page
    assert reverse("admin:agents_plan_change", args=[second.pk]) in page
    revised = admin_client.get(reverse("admin:agents_plan_change", args=[second.pk])).content.decode()
    assert reverse("admin:agents_plan_change", args=[first.pk]) in revised, "links to the version it revises"
    assert "Find B elsewhere" in revised and second.revision_reason.split(":")[0] in revised
    older = admin_client.get(reverse("admin:agents_plan_change", args=[first.pk])).content.decode()
    assert "version 2" in older, "the older version names its revision"
