"""AG-UI 1.0: ``POST /api/ag-ui`` and ``GET /api/ag-ui/runs/<id>`` (agents/http/agui.py, agui_events.py).

The real client first: ``@ag-ui/client``'s HttpAgent under Node's test runner
(tests/node/agui.test.mjs) against the live ASGI server and the stub model,
every event checked with AG-UI's own schemas. Then the translation of every
event type of our catalogue, and the door's rules (auth, 404, limits) over
real HTTP.
"""

import json
import uuid

import pytest
from ag_ui.core import Event
from pydantic import TypeAdapter

from agents.events import catalogue
from agents.http.agui_events import AgUiTranslator
from agents.http.agui_stream import AgUiEncoder, parse_cursor
from agents.models import Memory, Run
from sessions.models import ChatSession
from tests.support.node_clients import node_counts, run_node, scripted_model

pytestmark = pytest.mark.django_db(transaction=True)

AGUI_EVENT = TypeAdapter(Event)


def agui_body(message: str = "hello", *, thread_id: str | None = None, run_id: str | None = None, **extra) -> dict:
    return {
        "threadId": thread_id or str(uuid.uuid4()),
        "runId": run_id or str(uuid.uuid4()),
        "messages": [{"id": "m1", "role": "user", "content": message}],
        "state": {},
        "tools": [],
        "context": [],
        "forwardedProps": {},
        **extra,
    }


def read_agui(stream) -> list[tuple[str, dict]]:
    """Return (id, event) of every frame of an AG-UI stream, each validated as an AG-UI event."""
    frames = []
    body = "".join(stream.response.iter_text())
    assert body.endswith("\n\n"), body[-200:]
    for block in body.split("\n\n")[:-1]:
        if block.startswith(":"):
            continue
        id_line, data_line = block.split("\n")
        assert id_line.startswith("id: ") and data_line.startswith("data: "), block
        data = json.loads(data_line[6:])
        AGUI_EVENT.validate_python(data)
        frames.append((id_line[4:], data))
    return frames


# --- The real client -------------------------------------------------------------------------------------


def test_the_ag_ui_client_runs_simple_tool_and_complex_runs_and_re_attaches(stub_model, asgi_live_server, user):
    scripted_model(stub_model)
    output = run_node(
        "agui.test.mjs",
        asgi_live_server,
        user,
    )
    counts = node_counts(output)
    assert counts["pass"] == counts["tests"] == 5 and counts["fail"] == 0, output
    # Six runs (two on the simple test's thread, which share its session), five threads.
    assert Run.objects.filter(user=user).count() == 6
    assert ChatSession.objects.filter(user=user).count() == 5
    # The approved memory was written once.
    assert Memory.objects.filter(user=user, content="The sky is blue.").count() == 1


# --- Over HTTP ---------------------------------------------------------------------------------------------


def test_a_run_streams_ag_ui_frames_with_our_ids(stub_model, asgi_live_server, user):
    scripted_model(stub_model)
    client = asgi_live_server.client(user)
    run_id = str(uuid.uuid4())
    with client.stream("POST", "/api/ag-ui", json=agui_body("tool: sum", run_id=run_id)) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        frames = read_agui(stream)
    run = Run.objects.get(pk=run_id)
    assert frames[0][1]["type"] == "RUN_STARTED"
    assert frames[-1][1]["type"] == "RUN_FINISHED" and frames[-1][0] == str(run.last_event_seq)
    # Every id is one of our seqs (a stored event's last frame) or <seq>.<n> (its earlier frames).
    seqs = [parse_cursor(event_id) for event_id, _ in frames]
    assert all(cursor is not None for cursor in seqs)
    assert seqs == sorted(seqs, key=lambda c: (c[0], c[1] or 10**6))
    tool_start = next(i for i, (_, e) in enumerate(frames) if e["type"] == "TOOL_CALL_START")
    assert [frames[tool_start + n][0].split(".")[0] for n in range(3)] == [frames[tool_start][0].split(".")[0]] * 3


def test_re_attaching_inside_one_event_s_frames_sends_the_rest_of_them(stub_model, asgi_live_server, user):
    scripted_model(stub_model)
    client = asgi_live_server.client(user)
    with client.stream("POST", "/api/ag-ui", json=agui_body("tool: sum", thread_id="my-thread")) as stream:
        frames = read_agui(stream)
    run_id = frames[0][1]["runId"]
    # Cut after TOOL_CALL_START (the first frame of the tool_call event's three).
    index = next(i for i, (_, e) in enumerate(frames) if e["type"] == "TOOL_CALL_START")
    cut = frames[index][0]
    assert "." in cut
    url = f"/api/ag-ui/runs/{run_id}?thread_id=my-thread"  # the client's thread id, echoed
    with client.stream("GET", url, headers={"Last-Event-ID": cut}) as stream:
        rest = read_agui(stream)
    assert [e["type"] for _, e in rest[:4]] == ["RUN_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END"]
    assert rest[0][0] == cut and rest[1][0] == cut  # the reopening frames carry the cursor
    assert [f for f in rest[2:]] == frames[index + 1 :]


def test_auth_404_and_bad_input_answer_our_error_shape(asgi_live_server, user, other_user, stub_model):
    scripted_model(stub_model)
    anonymous = asgi_live_server.client()
    response = anonymous.post("/api/ag-ui", json=agui_body())
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    no_csrf = asgi_live_server.client(user, auth="cookie", csrf=False)
    response = no_csrf.post("/api/ag-ui", json=agui_body())
    assert response.status_code == 403
    client = asgi_live_server.client(user)
    response = client.post("/api/ag-ui", json={"threadId": "t"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input" and "runId" in response.json()["error"]["fields"]
    response = client.post("/api/ag-ui", json=agui_body(messages=[]))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_messages"
    response = client.post("/api/ag-ui", json=agui_body("x" * 9000))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_message"
    assert client.get("/api/ag-ui").status_code == 405

    with client.stream("POST", "/api/ag-ui", json=agui_body("simple")) as stream:
        run_id = read_agui(stream)[0][1]["runId"]
    mallory = asgi_live_server.client(other_user)
    response = mallory.get(f"/api/ag-ui/runs/{run_id}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "run_not_found"
    assert mallory.get("/api/ag-ui/runs/not-a-uuid").status_code == 404
    response = client.get(f"/api/ag-ui/runs/{run_id}", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_last_event_id"
    response = client.get(f"/api/ag-ui/runs/{run_id}", headers={"Last-Event-ID": "999"})
    assert response.status_code == 400


def test_another_user_s_thread_id_starts_a_new_session_and_leaks_nothing(
    stub_model, asgi_live_server, user, other_user
):
    scripted_model(stub_model)
    theirs = asgi_live_server.client(other_user)
    thread = str(uuid.uuid4())
    with theirs.stream("POST", "/api/ag-ui", json=agui_body("simple", thread_id=thread)) as stream:
        their_session = read_agui(stream)[0][1]["rawEvent"]["session_id"]
    mine = asgi_live_server.client(user)
    with mine.stream("POST", "/api/ag-ui", json=agui_body("simple", thread_id=their_session)) as stream:
        started = read_agui(stream)[0][1]
    assert started["rawEvent"]["session_id"] != their_session
    assert ChatSession.objects.get(pk=started["rawEvent"]["session_id"]).user == user
    assert ChatSession.objects.get(pk=their_session).messages.count() == 2  # untouched


def test_a_run_id_already_taken_is_not_reused(stub_model, asgi_live_server, user):
    scripted_model(stub_model)
    client = asgi_live_server.client(user)
    run_id = str(uuid.uuid4())
    ids = []
    for _ in range(2):
        with client.stream("POST", "/api/ag-ui", json=agui_body("simple", run_id=run_id)) as stream:
            ids.append(read_agui(stream)[0][1]["runId"])
    assert ids[0] == run_id and ids[1] != run_id


def test_limits_apply_as_on_our_stream(stub_model, asgi_live_server, user, settings):
    scripted_model(stub_model)
    settings.AGENT_RATE_LIMIT = "1/m"
    client = asgi_live_server.client(user)
    with client.stream("POST", "/api/ag-ui", json=agui_body("simple")) as stream:
        read_agui(stream)
    response = client.post("/api/ag-ui", json=agui_body("simple"))
    assert response.status_code == 429 and response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


def test_the_stream_cap_holds_for_ag_ui_streams(stub_model, asgi_live_server, user, settings):
    scripted_model(stub_model)
    settings.AGENT_MAX_STREAMS_PER_USER = 1
    client = asgi_live_server.client(user)
    with client.stream("POST", "/api/ag-ui", json=agui_body("slow")) as stream:
        body = stream.response.iter_text()  # kept: dropping the iterator would close the response
        first = next(body)
        run_id = json.loads(first.split("\n")[1][6:])["runId"]
        response = client.get(f"/api/ag-ui/runs/{run_id}")
        assert response.status_code == 429 and response.json()["error"]["code"] == "too_many_streams"


# --- The translation ----------------------------------------------------------------------------------------

SESSION = {
    "id": str(uuid.uuid4()),
    "title": "t",
    "context_type": "general",
    "entity_id": None,
    "created_at": "2025-01-01T00:00:00Z",
}
USAGE = {
    "prompt_tokens": 3,
    "completion_tokens": 4,
    "total_tokens": 7,
    "llm_calls": 1,
    "cost_usd": 0.0,
    "cost_known": True,
}
PLAN = {
    "id": str(uuid.uuid4()),
    "objective": "o",
    "steps": [{"id": "a", "title": "A", "instructions": "i", "depends_on": [], "status": "pending"}],
}
SAMPLES = {
    "session": {"session": SESSION},
    "analysis": {"strategy": "complex", "reason": "r"},
    "plan_created": {"plan": PLAN},
    "plan_revised": {"plan": PLAN, "reason": "r"},
    "step_start": {"step": {"id": "s1", "title": "A", "key": "a"}},
    "executor_spawned": {"executor_id": "e1", "step_id": "s1", "task": {"title": "A", "instructions": "i"}},
    "thinking": {"delta": "hm", "agent_id": "e1", "agent_kind": "executor"},
    "tool_call": {
        "call_id": "c1",
        "tool": "calculate",
        "arguments": {"expression": "1"},
        "agent_id": "e1",
        "agent_kind": "executor",
    },
    "tool_result": {
        "call_id": "c1",
        "tool": "calculate",
        "ok": True,
        "result": "1",
        "duration_ms": 1,
        "agent_id": "e1",
    },
    "executor_result": {
        "executor_id": "e1",
        "step_id": "s1",
        "status": "completed",
        "result": "1",
        "usage": USAGE,
        "duration_ms": 5,
    },
    "step_complete": {"step": {"id": "s1", "status": "completed", "result": "1"}},
    "retry": {"attempt": 1, "code": "rate_limited", "delay_ms": 10, "agent_id": "p"},
    "text": {"delta": "Hi", "agent_id": "p"},
    "approval_required": {
        "approval": {
            "id": "ap1",
            "kind": "tool",
            "tool": "remember",
            "arguments": {"content": "x"},
            "plan": None,
            "agent_id": "p",
            "expires_at": None,
        }
    },
    "approval_result": {
        "approval": {
            "id": "ap1",
            "decision": "approved",
            "arguments": {"content": "x"},
            "reason": "",
            "decided_by": "alice",
        }
    },
    "resumed": {"attempt": 2, "reason": "approval", "answer_reset": False},
    "budget_warning": {"scope": "run", "used_usd": 0.8, "limit_usd": 1.0},
    "error": {"code": "model_error", "message": "m", "fatal": False},
    "done": {"status": "completed", "message_id": None, "usage": USAGE, "duration_ms": 9},
}
EXPECTED = {
    "session": ["RUN_STARTED"],
    "analysis": ["CUSTOM"],
    "plan_created": ["CUSTOM"],
    "plan_revised": ["CUSTOM"],
    "step_start": ["STEP_STARTED"],
    "executor_spawned": ["SUBAGENT_STARTED"],
    "thinking": ["REASONING_START", "REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT"],
    "tool_call": ["REASONING_MESSAGE_END", "REASONING_END", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END"],
    "tool_result": ["TOOL_CALL_RESULT"],
    "executor_result": ["SUBAGENT_FINISHED"],
    "step_complete": ["STEP_FINISHED"],
    "retry": ["CUSTOM"],
    "text": ["TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT"],
    "approval_required": ["TEXT_MESSAGE_END", "RUN_FINISHED"],
    "approval_result": ["RUN_STARTED", "CUSTOM"],
    "resumed": ["CUSTOM"],
    "budget_warning": ["CUSTOM"],
    "error": ["CUSTOM"],
    "done": ["RUN_FINISHED"],
}


def stored(sequence: list[str], samples=SAMPLES) -> list[dict]:
    run_id, session_id = str(uuid.uuid4()), SESSION["id"]
    return [
        {
            "type": kind,
            "run_id": run_id,
            "session_id": session_id,
            "seq": seq,
            "ts": "2025-01-01T00:00:00Z",
            **samples[kind],
        }
        for seq, kind in enumerate(sequence, start=1)
    ]


def test_every_event_type_of_the_catalogue_translates_to_valid_ag_ui_events():
    assert set(SAMPLES) == set(catalogue.EVENTS) == set(EXPECTED), "a new event type needs its AG-UI mapping"
    events = stored(list(SAMPLES))
    translator = AgUiTranslator(run_id=events[0]["run_id"], thread_id="thread-1")
    for data in events:
        catalogue.from_stored(data)  # the samples are valid events of ours
        translated = translator.translate(data)
        assert [e.type.value for e in translated] == EXPECTED[data["type"]], data["type"]
        for event in translated:
            AGUI_EVENT.validate_python(event.model_dump(mode="json", by_alias=True))


def test_interrupt_carries_the_approval_and_closes_what_is_open():
    events = stored(["session", "step_start", "text", "approval_required"])
    translator = AgUiTranslator(run_id=events[0]["run_id"], thread_id="t")
    out = [e for data in events for e in translator.translate(data)]
    finished = out[-1]
    assert [e.type.value for e in out[-3:]] == ["TEXT_MESSAGE_END", "STEP_FINISHED", "RUN_FINISHED"]
    assert finished.outcome.type == "interrupt"
    [interrupt] = finished.outcome.interrupts
    assert interrupt.id == "ap1" and interrupt.reason == "tool_approval"
    assert interrupt.metadata["approval"]["tool"] == "remember"


def test_failed_and_cancelled_runs_end_with_run_error_and_cancelled():
    failed = {
        **SAMPLES,
        "done": {**SAMPLES["done"], "status": "failed"},
        "error": {"code": "boom", "message": "It broke.", "fatal": True},
    }
    events = stored(["session", "error", "done"], failed)
    translator = AgUiTranslator(run_id=events[0]["run_id"])
    last = [translator.translate(data) for data in events][-1][-1]
    assert last.type.value == "RUN_ERROR" and last.code == "boom" and last.message == "It broke."
    assert last.usage[0].total_tokens == 7
    cancelled = {**SAMPLES, "done": {**SAMPLES["done"], "status": "cancelled"}}
    events = stored(["session", "executor_spawned", "done"], cancelled)
    translator = AgUiTranslator(run_id=events[0]["run_id"])
    out = [e for data in events for e in translator.translate(data)]
    assert [e.type.value for e in out[-2:]] == ["SUBAGENT_ERROR", "RUN_FINISHED"]
    assert out[-1].outcome.type == "cancelled"


def test_the_encoder_reopens_what_was_open_at_the_cursor():
    events = stored(["session", "step_start", "executor_spawned", "thinking", "text", "tool_call", "done"])
    batch = [(data["seq"], data["type"], json.dumps(data)) for data in events]
    whole, _, over = AgUiEncoder(run_id=events[0]["run_id"], thread_id="t")(batch)
    assert over
    resumed, last_seq, over = AgUiEncoder(run_id=events[0]["run_id"], thread_id="t", cursor=(5, 0))(batch)
    assert over and last_seq == 7
    frames = [block.split("\n") for block in resumed.decode().split("\n\n")[:-1]]
    kinds = [json.loads(data[6:])["type"] for _, data in frames]
    assert kinds[:5] == ["RUN_STARTED", "STEP_STARTED", "SUBAGENT_STARTED", "TEXT_MESSAGE_START", "REASONING_START"]
    assert all(id_line == "id: 5" for id_line, _ in frames[:6])
    # Then exactly the frames a whole stream has after seq 5.
    whole_frames = whole.decode().split("\n\n")[:-1]
    after = [f for f in whole_frames if int(f.split("\n")[0][4:].split(".")[0]) > 5]
    assert resumed.decode().split("\n\n")[6:-1] == after
