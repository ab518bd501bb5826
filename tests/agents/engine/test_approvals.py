"""Approvals of write tools and plan review, over a real ASGI server, the real openai SDK and the stub model.

A write tool call of the planner waits for the user (AGENT_APPROVAL=write, the
default): the run is released (``waiting``, no owner), and a decision posted to
``/api/agent/runs/<id>/approvals/<id>`` resumes it on the runner. The stream the
client opened with its message stays open across the wait and ends with `done`.
"""

import threading

import pytest
from django.utils import timezone

from agents.models import Approval, Execution, Memory, PlanStep, Run, RunEvent
from agents.runtime import worker
from tests.support.live_server import read_until, wait_until
from tests.support.stub_model import (
    Text,
    ToolCalls,
    has_tool_results,
    is_executor,
    is_routing,
    is_synthesis,
    last_user_text,
    plan,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def types(events: list[dict]) -> list[str]:
    """Return the events' types, a run of `text` events as one (text is coalesced by time)."""
    kinds: list[str] = []
    for event in events:
        if not (event["type"] == "text" and kinds and kinds[-1] == "text"):
            kinds.append(event["type"])
    return kinds


def decide(client, run_id: str, approval_id: str, **body):
    return client.post(f"/api/agent/runs/{run_id}/approvals/{approval_id}", json=body)


def wait_status(run_id: str, status: str, timeout: float = 10) -> Run:
    wait_until(lambda: Run.objects.get(pk=run_id).status == status, f"the run is {status}", timeout=timeout)
    return Run.objects.get(pk=run_id)


def assert_whole(run_id: str, events: list[dict]) -> None:
    stored = [event.data for event in RunEvent.objects.filter(run_id=run_id).order_by("seq")]
    assert [event["seq"] for event in stored] == list(range(1, len(stored) + 1))
    assert events == stored, "the live stream is the stored one"
    assert types(stored).count("done") == 1 and stored[-1]["type"] == "done"


def remember(content: str, call_id: str | None = None):
    return ("remember", {"content": content}, call_id) if call_id else ("remember", {"content": content})


@pytest.fixture
def server(asgi_live_server, stub_model):
    return asgi_live_server


def test_approve_releases_the_waiting_run_and_the_tool_runs_once_after_the_decision(server, stub_model, user):
    stub_model.queue(ToolCalls([remember("I prefer tea")]), Text("Saved that you prefer tea."))
    client = server.client(user)
    with client.send("remember that I prefer tea") as stream:
        before = read_until(stream, "approval_required")
        run_id = before[0]["run_id"]
        required = before[-1]["approval"]
        assert required["kind"] == "tool" and required["tool"] == "remember" and required["plan"] is None
        assert required["arguments"] == {"content": "I prefer tea"} and required["expires_at"]
        assert "tool_call" not in types(before), "nothing ran before the decision"

        run = wait_status(run_id, Run.Status.WAITING)
        assert run.owner == "" and run.lease_until is None and run_id not in worker.held_run_ids()
        assert not Memory.objects.filter(user=user).exists()
        listed = client.get(f"/api/agent/runs/{run_id}/approvals").json()
        assert [(item["id"], item["status"], item["decision"]) for item in listed] == [
            (required["id"], "pending", None)
        ]

        answer = decide(client, run_id, required["id"], decision="approve")
        assert answer.status_code == 200, answer.text
        assert answer.json()["decision"] == "approved" and answer.json()["decided_by"] == user.username
        after = stream.events()

    assert types(after) == ["approval_result", "resumed", "tool_call", "tool_result", "text", "done"]
    assert after[0]["approval"] == {
        "id": required["id"],
        "decision": "approved",
        "arguments": {"content": "I prefer tea"},
        "reason": "",
        "decided_by": user.username,
    }
    assert after[1]["reason"] == "approval" and after[1]["attempt"] == 2
    assert after[3]["ok"] is True and after[-1]["status"] == "completed"
    assert list(Memory.objects.filter(user=user).values_list("content", flat=True)) == ["I prefer tea"]
    follow_up = stub_model.requests[1]["messages"]
    assert follow_up[-1]["role"] == "tool" and "I prefer tea" in follow_up[-1]["content"]
    assert_whole(run_id, before + after)
    approval = Approval.objects.get(pk=required["id"])
    assert approval.executed_at is not None and approval.result["ok"] is True


def test_reject_goes_back_to_the_model_as_rejected_with_the_reason(server, stub_model, user):
    stub_model.queue(ToolCalls([remember("I prefer tea")]), Text("All right, I won't save it."))
    client = server.client(user)
    with client.send("remember that I prefer tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, required = before[0]["run_id"], before[-1]["approval"]
        wait_status(run_id, Run.Status.WAITING)  # decided after the owner let go: a new attempt resumes it
        answer = decide(client, run_id, required["id"], decision="reject", reason="not now")
        assert answer.status_code == 200, answer.text
        after = stream.events()
    assert types(after) == ["approval_result", "resumed", "tool_result", "text", "done"]
    assert after[0]["approval"]["decision"] == "rejected" and after[0]["approval"]["reason"] == "not now"
    result = after[2]
    assert result["ok"] is False and result["error"]["code"] == "rejected" and "not now" in result["error"]["message"]
    assert not Memory.objects.filter(user=user).exists()
    tool_message = stub_model.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and "rejected" in tool_message["content"]
    assert after[-1]["status"] == "completed"


def test_edited_arguments_are_validated_like_the_models_and_the_edit_runs(server, stub_model, user):
    stub_model.queue(ToolCalls([remember("I prefer tea")]), Text("Saved."))
    client = server.client(user)
    with client.send("remember that I prefer tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
        url = f"/api/agent/runs/{run_id}/approvals/{approval_id}"
        for bad in ({"content": 5}, {"text": "x"}, {}, "not an object"):
            refused = client.post(url, json={"decision": "approve", "arguments": bad})
            assert refused.status_code == 400, bad
            assert (
                refused.json()["error"]["code"] == "invalid_arguments"
                and "arguments" in refused.json()["error"]["fields"]
            )
        refused = client.post(url, json={"decision": "maybe"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_decision"
        assert Approval.objects.get(pk=approval_id).status == "pending", "a refused decision decides nothing"

        answer = client.post(url, json={"decision": "approve", "arguments": {"content": "I prefer green tea"}})
        assert answer.status_code == 200, answer.text
        assert answer.json()["decided_arguments"] == {"content": "I prefer green tea"}
        after = stream.events()
    assert after[0]["approval"]["arguments"] == {"content": "I prefer green tea"}
    call = next(event for event in after if event["type"] == "tool_call")
    assert call["arguments"] == {"content": "I prefer green tea"}
    assert list(Memory.objects.filter(user=user).values_list("content", flat=True)) == ["I prefer green tea"]
    assert after[-1]["status"] == "completed"


def test_a_decision_posted_twice_or_at_once_runs_the_tool_once(server, stub_model, user):
    stub_model.queue(ToolCalls([remember("I prefer tea")]), Text("Saved."))
    client, other_tab = server.client(user), server.client(user)
    with client.send("remember that I prefer tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
        wait_status(run_id, Run.Status.WAITING)
        answers = []
        barrier = threading.Barrier(2)

        def post(http):
            barrier.wait()
            answers.append(decide(http, run_id, approval_id, decision="approve"))

        threads = [threading.Thread(target=post, args=(http,)) for http in (client, other_tab)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(answer.status_code for answer in answers) == [200, 409]
        again = decide(client, run_id, approval_id, decision="reject")
        assert again.status_code == 409 and again.json()["error"]["code"] == "approval_decided"
        after = stream.events()
    assert types(after).count("approval_result") == 1 and types(after).count("resumed") == 1
    assert types(after).count("tool_call") == 1 and after[-1]["status"] == "completed"
    assert Memory.objects.filter(user=user).count() == 1


def test_two_pending_approvals_decided_in_reverse_order(server, stub_model, user):
    stub_model.queue(
        ToolCalls([remember("likes tea", "call_tea"), remember("likes coffee", "call_coffee")]), Text("Done.")
    )
    client = server.client(user)
    with client.send("remember that I like tea and coffee") as stream:
        first = read_until(stream, "approval_required")
        second = read_until(stream, "approval_required")
        run_id = first[0]["run_id"]
        tea, coffee = first[-1]["approval"], second[-1]["approval"]
        assert (tea["arguments"], coffee["arguments"]) == ({"content": "likes tea"}, {"content": "likes coffee"})
        wait_status(run_id, Run.Status.WAITING)

        assert decide(client, run_id, coffee["id"], decision="approve").status_code == 200
        assert read_until(stream, "approval_result")[-1]["approval"]["id"] == coffee["id"]
        listed = client.get(f"/api/agent/runs/{run_id}/approvals").json()
        assert [item["id"] for item in listed] == [tea["id"], coffee["id"]], "pending first"
        assert Run.objects.get(pk=run_id).status == Run.Status.WAITING, "one is still pending: the run waits"
        assert not Memory.objects.filter(user=user).exists()

        assert decide(client, run_id, tea["id"], decision="reject").status_code == 200
        after = stream.events()
    assert types(after) == ["approval_result", "resumed", "tool_result", "tool_call", "tool_result", "text", "done"]
    assert list(Memory.objects.filter(user=user).values_list("content", flat=True)) == ["likes coffee"]
    answered = {m["tool_call_id"]: m["content"] for m in stub_model.requests[1]["messages"] if m["role"] == "tool"}
    assert "rejected" in answered["call_tea"] and "likes coffee" in answered["call_coffee"]
    assert list(client.get(f"/api/agent/runs/{run_id}/approvals").json()[0].keys())


def test_an_approval_expires_as_rejected_by_the_sweeper(server, stub_model, user, settings):
    settings.AGENT_APPROVAL_TIMEOUT = 1.0
    settings.AGENT_LEASE_SECONDS = 1.0  # the maintenance thread sweeps every half second
    worker.stop_maintenance()
    stub_model.queue(ToolCalls([remember("I prefer tea")]), Text("I did not save it."))
    client = server.client(user)
    try:
        with client.send("remember that I prefer tea") as stream:
            before = read_until(stream, "approval_required")
            run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
            after = stream.events()
    finally:
        worker.stop_maintenance()
    assert types(after) == ["approval_result", "resumed", "tool_result", "text", "done"]
    assert after[0]["approval"]["decision"] == "expired" and after[0]["approval"]["decided_by"] is None
    assert after[2]["error"]["code"] == "rejected" and after[-1]["status"] == "completed"
    late = decide(client, run_id, approval_id, decision="approve")
    assert late.status_code == 409 and late.json()["error"]["code"] == "approval_decided"
    assert not Memory.objects.filter(user=user).exists()


def test_a_decision_after_the_expiry_is_refused_and_expires_it(server, stub_model, user, settings):
    settings.AGENT_APPROVAL_TIMEOUT = 0.3
    worker.stop_maintenance()  # no sweeper: the decision finds it expired
    stub_model.queue(ToolCalls([remember("I prefer tea")]), Text("Not saved."))
    client = server.client(user)
    with client.send("remember that I prefer tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
        worker.stop_maintenance()
        wait_until(lambda: Approval.objects.get(pk=approval_id).expires_at < timezone.now(), "it is past its time")
        late = decide(client, run_id, approval_id, decision="approve")
        assert late.status_code == 409 and late.json()["error"]["code"] == "approval_decided"
        after = stream.events()
    assert after[0]["approval"]["decision"] == "expired" and after[-1]["status"] == "completed"
    assert not Memory.objects.filter(user=user).exists()


def test_cancel_ends_a_waiting_run_and_closes_its_approvals(server, stub_model, user):
    stub_model.queue(ToolCalls([remember("I prefer tea")]))
    client = server.client(user)
    with client.send("remember that I prefer tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
        wait_status(run_id, Run.Status.WAITING)
        cancelled = client.post(f"/api/agent/runs/{run_id}/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
        after = stream.events()
    assert types(after) == ["approval_result", "done"]
    assert after[0]["approval"]["decision"] == "rejected" and after[-1]["status"] == "cancelled"
    assert decide(client, run_id, approval_id, decision="approve").status_code == 409
    assert not Memory.objects.filter(user=user).exists() and len(stub_model.requests) == 1
    assert_whole(run_id, before + after)


def test_another_users_approvals_are_not_found(server, stub_model, user, other_user):
    stub_model.queue(ToolCalls([remember("I prefer tea")]), Text("Saved."))
    client, intruder = server.client(user), server.client(other_user)
    with client.send("remember that I prefer tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
        for answer in (
            intruder.get(f"/api/agent/runs/{run_id}/approvals"),
            decide(intruder, run_id, approval_id, decision="approve"),
            decide(client, run_id, "not-a-uuid", decision="approve"),
            decide(client, run_id, "0d8c7a0e-0000-4000-8000-000000000000", decision="approve"),
        ):
            assert answer.status_code == 404, answer.text
            assert answer.json()["error"]["code"] in ("run_not_found", "approval_not_found")
        assert Approval.objects.get(pk=approval_id).status == "pending"
        assert decide(client, run_id, approval_id, decision="approve").status_code == 200
        assert stream.events()[-1]["status"] == "completed"


def test_with_approval_none_write_tools_run_at_once(server, stub_model, user, settings):
    settings.AGENT_APPROVAL = "none"
    stub_model.queue(ToolCalls([remember("I prefer tea")]), Text("Saved."))
    with server.client(user).send("remember that I prefer tea") as stream:
        events = stream.events()
    assert types(events) == ["session", "analysis", "tool_call", "tool_result", "text", "done"]
    assert Memory.objects.filter(user=user).count() == 1 and not Approval.objects.exists()


# --- Plan review ----------------------------------------------------------------


def review_responder(executed: list[str]):
    lock = threading.Lock()

    def reply(request):
        if is_routing(request) and not has_tool_results(request):
            return plan("Compare", [("x", "Research X"), ("y", "Research Y", ["x"])])
        if is_executor(request):
            title = request["messages"][-1]["content"].splitlines()[0].removeprefix("Step: ")
            with lock:
                executed.append(title)
            return Text(f"result of {title}")
        if is_synthesis(request) and "Step results:" in last_user_text(request):
            return Text("Final answer from the steps.")
        return Text("A direct answer, without research.")

    return reply


def test_plan_review_approve_runs_the_proposed_steps(server, stub_model, user):
    executed: list[str] = []
    stub_model.responder = review_responder(executed)
    client = server.client(user)
    with client.send("compare X and Y", review_plan=True) as stream:
        before = read_until(stream, "approval_required")
        run_id, required = before[0]["run_id"], before[-1]["approval"]
        assert types(before)[-2:] == ["plan_created", "approval_required"]
        assert required["kind"] == "plan" and required["tool"] is None
        assert [step["key"] for step in required["plan"]["steps"]] == ["x", "y"]
        wait_status(run_id, Run.Status.WAITING)
        assert executed == [] and not Execution.objects.filter(run_id=run_id).exists()
        assert decide(client, run_id, required["id"], decision="approve").status_code == 200
        after = stream.events()
    assert types(after)[:2] == ["approval_result", "resumed"] and "plan_created" not in types(after)
    assert sorted(executed) == ["Research X", "Research Y"] and after[-1]["status"] == "completed"


def test_plan_review_edit_validates_and_runs_the_users_steps(server, stub_model, user):
    executed: list[str] = []
    stub_model.responder = review_responder(executed)
    client = server.client(user)
    with client.send("compare X and Y", review_plan=True) as stream:
        before = read_until(stream, "approval_required")
        run_id, required = before[0]["run_id"], before[-1]["approval"]
        url = f"/api/agent/runs/{run_id}/approvals/{required['id']}"
        wait_status(run_id, Run.Status.WAITING)
        cyclic = [
            {"id": "a", "title": "A", "instructions": "do A", "depends_on": ["b"]},
            {"id": "b", "title": "B", "instructions": "do B", "depends_on": ["a"]},
        ]
        refused = client.post(url, json={"decision": "approve", "arguments": {"steps": cyclic}})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_plan"
        refused = client.post(url, json={"decision": "approve", "arguments": {"steps": []}})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_plan"
        steps = [{"id": "z", "title": "Research Z", "instructions": "Find out about Z", "depends_on": []}]
        answer = client.post(url, json={"decision": "approve", "arguments": {"steps": steps}})
        assert answer.status_code == 200, answer.text
        after = stream.events()
    assert types(after)[:3] == ["approval_result", "resumed", "plan_created"]
    assert [step["key"] for step in after[2]["plan"]["steps"]] == ["z"]
    assert after[0]["approval"]["arguments"]["steps"][0]["id"] == "z"
    assert executed == ["Research Z"] and after[-1]["status"] == "completed"
    assert list(PlanStep.objects.filter(plan__run_id=run_id).values_list("key", "status")) == [("z", "completed")]


def test_plan_review_reject_answers_without_executors(server, stub_model, user):
    executed: list[str] = []
    stub_model.responder = review_responder(executed)
    client = server.client(user)
    with client.send("compare X and Y", review_plan=True) as stream:
        before = read_until(stream, "approval_required")
        run_id, required = before[0]["run_id"], before[-1]["approval"]
        wait_status(run_id, Run.Status.WAITING)
        answer = decide(client, run_id, required["id"], decision="reject", reason="too slow")
        assert answer.status_code == 200, answer.text
        after = stream.events()
    assert types(after) == ["approval_result", "resumed", "step_complete", "step_complete", "text", "done"]
    assert all(event["step"]["status"] == "skipped" for event in after if event["type"] == "step_complete")
    assert executed == [] and not Execution.objects.filter(run_id=run_id).exists()
    assert "".join(e["delta"] for e in after if e["type"] == "text") == "A direct answer, without research."
    last_request = stub_model.requests[-1]
    assert last_request.get("tools") is None and "too slow" in last_request["messages"][-1]["content"]
    assert after[-1]["status"] == "completed"


def test_the_offline_model_asks_to_approve_remember(asgi_live_server, offline_model, user):
    client = asgi_live_server.client(user)
    with client.send("remember that I prefer tea") as stream:
        before = read_until(stream, "approval_required")
        approval = before[-1]["approval"]
        assert approval["tool"] == "remember" and approval["arguments"] == {"content": "I prefer tea"}
        answer = decide(client, before[0]["run_id"], approval["id"], decision="approve")
        assert answer.status_code == 200, answer.text
        after = stream.events()
    text = "".join(event["delta"] for event in after if event["type"] == "text")
    assert text == "Saved to memory: “I prefer tea”." and after[-1]["status"] == "completed"
    assert list(Memory.objects.filter(user=user).values_list("content", flat=True)) == ["I prefer tea"]


def test_attempts_begun_by_decisions_do_not_count_against_the_attempt_cap(user, settings):
    from datetime import timedelta

    from agents.runs import services
    from agents.runtime import runners, sweeper

    class Recording:
        executes_here = False

        def __init__(self):
            self.submitted = []

        def submit(self, run_id):
            self.submitted.append(str(run_id))

    settings.AGENT_MAX_ATTEMPTS = 3
    worker.stop_maintenance()  # this test sweeps by hand
    run, _ = services.run_create(user=user, message="remember three things")
    expired = timezone.now() - timedelta(seconds=60)
    # Three attempts, two of them begun by decisions: one owner was lost so far.
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING, owner="gone:1:x", attempt=3, approval_resumes=2, lease_until=expired
    )
    previous = runners.set_runner(Recording())
    try:
        done = sweeper.sweep()
    finally:
        recorded = runners.set_runner(previous)
    assert done["requeued"] == [str(run.pk)] and done["failed"] == []
    assert recorded.submitted == [str(run.pk)]
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, attempt=5, lease_until=expired)
    assert services.run_claim(run_id=run.pk, owner="me:2:y") is None, "three lost owners: no more attempts"
    assert sweeper.sweep()["failed"] == [str(run.pk)]
