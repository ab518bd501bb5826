"""What the stream endpoints answer before a stream starts (docs/api.md), over a real server.

Every refusal is JSON with a stable code, and stores nothing: no message, no
run, no rate count, no model call.
"""

import threading
import uuid

import pytest

from agents.models import Run
from agents.runs import limits, services
from sessions.models import ChatSession, Message
from tests.factories import make_run
from tests.support.live_server import wait_for_runs_to_finish
from tests.support.stub_model import Text

pytestmark = pytest.mark.django_db(transaction=True)


def assert_nothing_stored(user, *, runs: int = 0, messages: int = 0) -> None:
    assert Run.objects.filter(user=user).count() == runs
    assert Message.objects.filter(session__user=user).count() == messages
    assert limits.rate_used(user_id=user.pk) == runs, "the rate counts accepted only"


def refusal(stream) -> tuple[int, str]:
    return stream.status_code, stream.json()["error"]["code"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{not json", "invalid_json", None),
        (b"", "invalid_json", None),
        (b"\xff\xfe", "invalid_json", None),
        (b"[1, 2]", "invalid_body", None),
        (b'{"session_id": null}', "invalid_message", "message"),
        (b'{"message": "   "}', "invalid_message", "message"),
        (b'{"message": 42}', "invalid_message", "message"),
        (b'{"message": "hi", "session_id": "not-a-uuid"}', "invalid_session_id", "session_id"),
        (b'{"message": "hi", "session_id": 7}', "invalid_session_id", "session_id"),
        (b'{"message": "hi", "context_type": ["x"]}', "invalid_context_type", "context_type"),
        (b'{"message": "hi", "entity_id": {"a": 1}}', "invalid_entity_id", "entity_id"),
        (b'{"message": "a\\u0000b"}', "invalid_message", "message"),
        (b'{"message": "a\\ud800b"}', "invalid_message", "message"),
        pytest.param(b'{"message": ' + b"[" * 100_000, "invalid_json", None, id="nested-past-recursion-limit"),
    ],
)
def test_invalid_body_answers_400_with_code_and_field(asgi_live_server, user, body, code, field):
    client = asgi_live_server.client(user)
    with client.stream("POST", "/api/agent/stream", content=body, headers={"Content-Type": "application/json"}) as s:
        assert refusal(s) == (400, code)
        error = s.json()["error"]
    if field:
        assert field in error["fields"]
    assert_nothing_stored(user)


def test_too_long_message_and_bad_idempotency_key_answer_400(asgi_live_server, user, settings):
    settings.AGENT_MAX_MESSAGE_CHARS = 10
    client = asgi_live_server.client(user)
    with client.send("x" * 11) as stream:
        assert refusal(stream) == (400, "invalid_message")
    with client.send("fine", headers={"Idempotency-Key": "k" * 256}) as stream:
        assert refusal(stream) == (400, "invalid_idempotency_key")
    assert_nothing_stored(user)
    assert limits.budget_used(user_id=user.pk) == 0, "a refused request gives its token reservation back"


def test_no_credentials_or_a_bad_token_answer_401(asgi_live_server, user):
    anonymous = asgi_live_server.client()
    run = make_run(user)
    with anonymous.send("hi") as stream:
        assert refusal(stream) == (401, "not_authenticated")
        assert stream.headers["www-authenticate"] == "Token"
    with anonymous.join(run.pk) as stream:
        assert refusal(stream) == (401, "not_authenticated")
    with anonymous.send("hi", headers={"Authorization": "Token not-a-real-token"}) as stream:
        assert refusal(stream) == (401, "not_authenticated")
    assert anonymous.post(f"/api/agent/runs/{run.pk}/cancel").status_code == 401
    assert anonymous.get(f"/api/agent/runs/{run.pk}").status_code == 401
    assert Run.objects.count() == 1 and Message.objects.count() == 1


def test_cookie_auth_needs_the_csrf_header(stub_model, asgi_live_server, user):
    stub_model.queue(Text("Signed in by cookie."))
    without = asgi_live_server.client(user, auth="cookie", csrf=False)
    with without.send("hi") as stream:
        assert refusal(stream) == (403, "permission_denied")
        assert "CSRF" in stream.json()["error"]["message"]
    assert_nothing_stored(user)

    run_id = None
    with asgi_live_server.client(user, auth="cookie").send("hi") as stream:
        assert stream.status_code == 200
        found = stream.events()
        run_id = found[0]["run_id"]
    assert found[-1]["status"] == "completed"
    # GET needs no CSRF token; cancel (DRF, unsafe) does.
    with without.join(run_id) as stream:
        assert stream.events() == found
    assert without.post(f"/api/agent/runs/{run_id}/cancel").status_code == 403
    assert asgi_live_server.client(user, auth="cookie").post(f"/api/agent/runs/{run_id}/cancel").status_code == 202


def test_other_users_run_and_session_answer_404_everywhere(asgi_live_server, user, other_user):
    theirs = make_run(other_user, message="private")
    mine = asgi_live_server.client(user)
    for run_id in (theirs.pk, uuid.uuid4(), "not-a-uuid"):
        with mine.join(run_id) as stream:
            assert refusal(stream) == (404, "run_not_found")
        with mine.join(run_id, last_event_id=0) as stream:
            assert stream.status_code == 404
        cancel = mine.post(f"/api/agent/runs/{run_id}/cancel")
        assert (cancel.status_code, cancel.json()["error"]["code"]) == (404, "run_not_found")
        detail = mine.get(f"/api/agent/runs/{run_id}")
        assert (detail.status_code, detail.json()["error"]["code"]) == (404, "run_not_found")
    for session_id in (theirs.session_id, uuid.uuid4()):
        with mine.send("sneak in", session_id=str(session_id)) as stream:
            assert stream.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.cancel_requested
    assert_nothing_stored(user)
    assert Message.objects.filter(session=theirs.session).count() == 1


def test_second_message_on_a_busy_session_answers_409_with_the_active_run(stub_model, asgi_live_server, user):
    gate = threading.Event()
    stub_model.responder = lambda request: gate.wait(10) and Text("finally")
    client = asgi_live_server.client(user)
    try:
        with client.send("first") as stream:
            session_event = stream.events(limit=1)[0]
            with client.send("second", session_id=session_event["session_id"]) as busy:
                assert refusal(busy) == (409, "run_active")
                assert busy.json()["error"]["run_id"] == session_event["run_id"]
            gate.set()
            assert stream.events()[-1]["status"] == "completed"
    finally:
        gate.set()
    assert_nothing_stored(user, runs=1, messages=2)  # the first message and its answer
    with client.send("now it is free", session_id=session_event["session_id"]) as stream:
        assert stream.status_code == 200 and stream.events()[-1]["type"] == "done"


def test_21st_message_in_a_minute_answers_429_and_other_users_are_unaffected(
    stub_model, asgi_live_server, user, other_user, settings
):
    settings.AGENT_RATE_LIMIT = "20/m"
    stub_model.responder = lambda request: Text("ok")
    client = asgi_live_server.client(user)
    for _ in range(20):
        with client.send("again") as stream:
            assert stream.status_code == 200
    with client.send("one too many") as stream:
        assert refusal(stream) == (429, "rate_limited")
        retry_after = int(stream.headers["retry-after"])
        assert 1 <= retry_after <= 61  # a minute plus at most one 1-s bucket of the rolling window
        assert stream.json()["error"]["retry_after"] == retry_after
    assert Message.objects.filter(content="one too many").count() == 0
    assert Run.objects.filter(user=user).count() == 20

    with asgi_live_server.client(other_user).send("my first") as stream:
        assert stream.status_code == 200
        assert stream.events()[-1]["type"] == "done"
    wait_for_runs_to_finish()


def test_token_budget_refuses_before_any_model_call(stub_model, asgi_live_server, user, other_user, settings):
    settings.AGENT_TOKEN_BUDGET = 1200
    stub_model.responder = lambda request: Text("A costly answer.", usage=(900, 300))
    client = asgi_live_server.client(user)
    with client.send("hi") as stream:
        assert stream.events()[-1]["usage"]["total_tokens"] == 1200
    wait_for_runs_to_finish()  # the runner settles the budget right after done
    assert limits.budget_used(user_id=user.pk) == 1200, "the reservation was replaced by the real usage"

    with client.send("more please") as stream:
        assert refusal(stream) == (429, "token_budget_exceeded")
        assert 1 <= int(stream.headers["retry-after"]) <= 60
    assert len(stub_model.requests) == 1, "no model call for the refused message"
    assert_nothing_stored(user, runs=1, messages=2)

    with asgi_live_server.client(other_user).send("hi") as stream:
        assert stream.status_code == 200 and stream.events()[-1]["status"] == "completed"


def test_busy_session_refusal_does_not_use_up_rate_or_budget(asgi_live_server, user, settings):
    settings.AGENT_RATE_LIMIT = "2/m"
    run = make_run(user)  # queued: its session is busy
    client = asgi_live_server.client(user)
    for _ in range(3):
        with client.send("again", session_id=str(run.session_id)) as stream:
            assert refusal(stream) == (409, "run_active")
    assert limits.rate_used(user_id=user.pk) == 0
    assert limits.budget_used(user_id=user.pk) == 0
    assert ChatSession.objects.filter(user=user).count() == 1


def test_wrong_method_answers_405_json(asgi_live_server, user):
    client = asgi_live_server.client(user)
    response = client.get("/api/agent/stream")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["allow"] == "POST"
    run, _ = services.run_create(user=user, message="x")
    response = client.post(f"/api/agent/runs/{run.pk}/stream")
    assert response.status_code == 405 and response.headers["allow"] == "GET"
