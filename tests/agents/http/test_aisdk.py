"""The Vercel AI SDK's UI message stream: ``POST /api/ai-sdk/chat``, ``GET /api/ai-sdk/chat/<id>/stream``.

The real client first: the ``ai`` package's DefaultChatTransport and
readUIMessageStream under Node's test runner (tests/node/aisdk.test.mjs)
against the live ASGI server and the stub model. Then the translation of
every event type of our catalogue, and the door's rules over real HTTP.
"""

import json
import uuid

import pytest

from agents.events import catalogue
from agents.http.aisdk_parts import AiSdkEncoder, AiSdkTranslator
from agents.models import Memory, Run
from tests.agents.http.test_agui import SAMPLES, stored
from tests.support.node_clients import node_counts, run_node, scripted_model

pytestmark = pytest.mark.django_db(transaction=True)


def chat_body(text: str = "simple", *, chat_id: str | None = None, **extra) -> dict:
    message = {"id": "m1", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"id": chat_id or f"chat-{uuid.uuid4()}", "messages": [message], "trigger": "submit-message", **extra}


def read_parts(stream) -> list[dict]:
    """Return the parts of a whole UI message stream; it must end with ``data: [DONE]``."""
    body = "".join(stream.response.iter_text())
    blocks = body.split("\n\n")
    assert blocks[-2:] == ["data: [DONE]", ""], body[-200:]
    assert all(block.startswith("data: ") for block in blocks[:-2])
    return [json.loads(block[6:]) for block in blocks[:-2]]


def test_the_ai_sdk_client_reads_a_complex_run_and_resumes_one(stub_model, asgi_live_server, user):
    scripted_model(stub_model)
    output = run_node(
        "aisdk.test.mjs",
        asgi_live_server,
        user,
    )
    counts = node_counts(output)
    assert counts["pass"] == counts["tests"] == 4 and counts["fail"] == 0, output
    assert Run.objects.filter(user=user).count() == 5
    assert Memory.objects.filter(user=user, content="The sky is blue.").count() == 1


def test_the_stream_has_the_protocol_header_and_ends_with_done(stub_model, asgi_live_server, user):
    scripted_model(stub_model)
    client = asgi_live_server.client(user)
    with client.stream("POST", "/api/ai-sdk/chat", json=chat_body("tool: sum")) as stream:
        assert stream.status_code == 200
        assert stream.headers["x-vercel-ai-ui-message-stream"] == "v1"
        assert stream.headers["content-type"].startswith("text/event-stream")
        parts = read_parts(stream)
    kinds = [part["type"] for part in parts]
    assert kinds[0] == "start" and kinds[-1] == "finish"
    assert kinds.index("tool-input-available") < kinds.index("tool-output-available") < kinds.index("text-start")
    run = Run.objects.get(pk=parts[0]["messageId"])
    assert parts[0]["messageMetadata"] == {"runId": str(run.pk), "sessionId": str(run.session_id)}


def test_the_door_s_rules(stub_model, asgi_live_server, user, other_user, settings):
    scripted_model(stub_model)
    assert asgi_live_server.client().post("/api/ai-sdk/chat", json=chat_body()).status_code == 401
    no_csrf = asgi_live_server.client(user, auth="cookie", csrf=False)
    assert no_csrf.post("/api/ai-sdk/chat", json=chat_body()).status_code == 403
    cookie = asgi_live_server.client(user, auth="cookie")
    with cookie.stream("POST", "/api/ai-sdk/chat", json=chat_body()) as stream:
        assert stream.status_code == 200
        read_parts(stream)
    client = asgi_live_server.client(user)
    for body, code in [
        ([], "invalid_body"),
        ({**chat_body(), "id": ""}, "invalid_id"),
        ({**chat_body(), "trigger": "nope"}, "invalid_trigger"),
        ({**chat_body(), "messages": []}, "invalid_messages"),
        ({**chat_body(), "messages": [{"id": "a", "role": "assistant", "parts": []}]}, "invalid_messages"),
        (chat_body("x" * 9000), "invalid_message"),
    ]:
        response = client.post("/api/ai-sdk/chat", json=body)
        assert response.status_code == 400 and response.json()["error"]["code"] == code, (body, response.text)

    # Another user's session id as a chat id is a new chat of mine; their run is never replayed to me.
    theirs = asgi_live_server.client(other_user)
    with theirs.stream("POST", "/api/ai-sdk/chat", json=chat_body("slow")) as stream:
        body = stream.response.iter_text()  # kept open: their run stays active
        first = json.loads(next(body).split("\n\n")[0][6:])
        session_id = first["messageMetadata"]["sessionId"]
        response = client.get(f"/api/ai-sdk/chat/{session_id}/stream")
        assert response.status_code == 204
        assert theirs.get(f"/api/ai-sdk/chat/{session_id}/stream", timeout=20).status_code == 200
    settings.AGENT_RATE_LIMIT = "1/m"  # the run this user started above used it up
    response = client.post("/api/ai-sdk/chat", json=chat_body())
    assert response.status_code == 429 and response.json()["error"]["code"] == "rate_limited"


def test_a_failed_run_sends_error_and_a_cancelled_one_abort():
    failed = {
        **SAMPLES,
        "done": {**SAMPLES["done"], "status": "failed"},
        "error": {"code": "boom", "message": "It broke.", "fatal": True},
    }
    translator = AiSdkTranslator(run_id="r")
    parts = [p for data in stored(["session", "text", "error", "done"], failed) for p in translator.translate(data)[0]]
    assert [p["type"] for p in parts[-4:]] == ["data-error", "text-end", "error", "finish"]
    assert parts[-2]["errorText"] == "It broke."
    cancelled = {**SAMPLES, "done": {**SAMPLES["done"], "status": "cancelled"}}
    translator = AiSdkTranslator(run_id="r")
    parts = [p for data in stored(["session", "step_start", "done"], cancelled) for p in translator.translate(data)[0]]
    assert [p["type"] for p in parts[-2:]] == ["finish-step", "abort"]


EXPECTED = {
    "session": ["start"],
    "analysis": ["data-route"],
    "plan_created": ["data-plan"],
    "plan_revised": ["data-plan"],
    "step_start": ["start-step", "data-step"],
    "executor_spawned": ["data-executor"],
    "thinking": ["reasoning-start", "reasoning-delta"],
    "tool_call": ["reasoning-end", "tool-input-available"],
    "tool_result": ["tool-output-available"],
    "executor_result": ["data-executor"],
    "step_complete": ["data-step", "finish-step"],
    "retry": ["data-retry"],
    "text": ["text-start", "text-delta"],
    "approval_required": ["text-end", "tool-input-available", "tool-approval-request", "finish"],
    "approval_result": ["data-approval_result"],
    "resumed": ["data-resumed"],
    "budget_warning": ["data-budget_warning"],
    "error": ["data-error"],
    "done": ["finish"],
}


def test_every_event_type_of_the_catalogue_maps_to_ui_message_parts():
    assert set(EXPECTED) == set(catalogue.EVENTS), "a new event type needs its AI SDK mapping"
    translator = AiSdkTranslator(run_id="r")
    for data in stored(list(SAMPLES)):
        parts, _ = translator.translate(data)
        assert [p["type"] for p in parts] == EXPECTED[data["type"]], data["type"]
        json.dumps(parts)  # plain JSON


def test_a_stream_after_a_seq_starts_with_start_and_sends_only_what_follows():
    events = stored(["session", "text", "text", "done"])
    batch = [(data["seq"], data["type"], json.dumps(data)) for data in events]
    body, last, over = AiSdkEncoder(run_id="r", after_seq=2)(batch)
    parts = [json.loads(block[6:]) for block in body.decode().split("\n\n")[:-1]]
    assert [p["type"] for p in parts] == ["start", "text-delta", "text-end", "finish"]
    assert over and last == 4
