"""The runs API next to the streams: ``GET /api/agent/runs/<id>`` and ``POST .../cancel``."""

import pytest
from rest_framework.test import APIClient

from agents.http import runs as run_apis
from agents.models import Run
from agents.runs import services
from agents.runtime import worker
from tests.factories import make_run
from tests.support.stub_model import Text, is_executor, is_routing, plan

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def complex_reply(request):
    if is_routing(request):
        return plan("Compare", [("x", "Research X"), ("y", "Research Y"), ("r", "Recommend", ["x", "y"])])
    if is_executor(request):
        return Text("Findings.", usage=(10, 5))
    return Text("X it is.", usage=(20, 4))


def test_run_detail_shows_plan_steps_executions_usage_and_timings(stub_model, api, user, django_assert_num_queries):
    stub_model.responder = complex_reply
    run = make_run(user, message="compare X and Y")
    worker.execute_run(run.pk)

    with django_assert_num_queries(5):  # run, plan, steps, their dependencies, executions
        response = api.get(f"/api/agent/runs/{run.pk}")
    assert response.status_code == 200
    body = response.json()
    run.refresh_from_db()
    assert body["id"] == str(run.pk) and body["session_id"] == str(run.session_id)
    assert (body["status"], body["route"]) == ("completed", "complex") and body["route_reason"]
    assert body["usage"] == {
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "total_tokens": run.total_tokens,
        "llm_calls": 5,
        "cost_usd": float(run.cost_usd),
        "cost_known": True,
    }
    assert run.cost_usd > 0  # gpt-4o-mini (the default model) is in the price table
    timings = body["timings"]
    assert timings["created_at"] and timings["started_at"] and timings["finished_at"]
    assert timings["duration_ms"] == run.duration_ms
    assert body["error"] is None
    assert body["user_message_id"] == str(run.user_message_id)
    assert body["assistant_message_id"] == str(run.assistant_message_id)

    steps = body["plan"]["steps"]
    assert body["plan"]["objective"] == "Compare"
    ids = {step["key"]: step["id"] for step in steps}
    assert [(step["key"], step["depends_on"], step["status"]) for step in steps] == [
        ("x", [], "completed"),
        ("y", [], "completed"),
        ("r", [ids["x"], ids["y"]], "completed"),
    ]
    assert set(steps[0]) == {
        "id", "key", "title", "instructions", "depends_on", "status", "result", "started_at", "finished_at",
    }  # fmt: skip
    executions = body["executions"]
    assert len(executions) == 3
    assert {execution["step_id"] for execution in executions} == {step["id"] for step in steps}
    # gpt-4o-mini: $0.15 and $0.60 per million prompt and completion tokens.
    assert executions[0]["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "llm_calls": 1,
        "cost_usd": 0.0000045,
        "cost_known": True,
    }
    assert set(executions[0]) == {
        "id", "step_id", "agent_id", "status", "result", "usage", "started_at", "finished_at", "duration_ms",
    }  # fmt: skip
    assert "prompt" not in response.content.decode().lower().replace("prompt_tokens", "")


def test_run_detail_of_a_simple_run_has_no_plan_and_a_failed_run_has_its_error(api, user):
    run = make_run(user)
    body = api.get(f"/api/agent/runs/{run.pk}").json()
    assert body["status"] == "queued" and body["plan"] is None and body["executions"] == []
    assert body["timings"]["started_at"] is None and body["timings"]["duration_ms"] is None
    services.run_finish(run=run, status=Run.Status.FAILED, error_code="timeout", error_message="The model timed out.")
    body = api.get(f"/api/agent/runs/{run.pk}").json()
    assert body["error"] == {"code": "timeout", "message": "The model timed out."}


def test_cancel_is_idempotent_and_answers_the_status(api, user):
    run = make_run(user)
    for _ in range(2):
        response = api.post(f"/api/agent/runs/{run.pk}/cancel")
        assert response.status_code == 202
        assert response.json() == {"run_id": str(run.pk), "status": "queued"}
    run.refresh_from_db()
    assert run.cancel_requested
    services.run_finish(run=run, status=Run.Status.CANCELLED)
    assert api.post(f"/api/agent/runs/{run.pk}/cancel").json()["status"] == "cancelled"


def test_cancel_of_a_finished_run_changes_nothing(api, user):
    run = make_run(user)
    services.run_finish(run=run, status=Run.Status.COMPLETED)
    response = api.post(f"/api/agent/runs/{run.pk}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "completed"
    run.refresh_from_db()
    assert not run.cancel_requested


def test_other_users_run_is_not_found(api, other_user):
    theirs = make_run(other_user)
    for response in (api.get(f"/api/agent/runs/{theirs.pk}"), api.post(f"/api/agent/runs/{theirs.pk}/cancel")):
        assert response.status_code == 404 and response.json()["error"]["code"] == "run_not_found"
    theirs.refresh_from_db()
    assert not theirs.cancel_requested


def test_cancel_racing_the_deletion_of_its_session_answers_404(api, user, monkeypatch):
    """The run is read, then its session is deleted before the cancel: 404, not a 500."""
    run = make_run(user)
    read = run_apis.selectors.run_get

    def read_then_lose(**kwargs):
        found = read(**kwargs)
        found.session.delete()
        return found

    monkeypatch.setattr(run_apis.selectors, "run_get", read_then_lose)

    response = api.post(f"/api/agent/runs/{run.pk}/cancel")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "run_not_found"
    assert not Run.objects.filter(pk=run.pk).exists()
