"""The event stream over a real ASGI server: frames, routes, resume, fan-out, cancel, keep-alive.

Every test runs uvicorn (``asgi_live_server``) and the real engine against
the stub model server (``stub_model``), through real HTTP on both sides.
"""

import contextlib
import json
import os
import re
import threading
import time
from datetime import datetime

import pytest
import redis

from agents import events
from agents.engine import context
from agents.events import bus
from agents.events.bus import RedisBus
from agents.http import streams as views
from agents.models import Run, RunEvent
from tests.factories import done_event, make_run, session_event
from tests.support.live_server import parse_sse, wait_for_runs_to_finish, wait_until
from tests.support.stub_model import Text, ToolCalls, is_executor, is_routing, last_user_text, plan

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"
BASE_FIELDS = {"type", "run_id", "session_id", "seq", "ts"}
TS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def assert_contract_stream(body: str) -> list[dict]:
    """Check a whole stream body against docs/events.md and return its events."""
    frames = [frame for frame in parse_sse(body) if frame.comment is None]
    found = [frame.event for frame in frames]
    assert [frame.id for frame in frames] == list(range(1, len(frames) + 1)), "ids are 1..n with no gap"
    for frame, event in zip(frames, found, strict=True):
        assert set(event) >= BASE_FIELDS, event
        assert event["seq"] == frame.id
        assert TS_RE.fullmatch(event["ts"]), event["ts"]
        assert frame.data == json.dumps(event, separators=(",", ":")), "one line of JSON, as stored"
    assert found[0]["type"] == "session"
    assert [event["type"] for event in found].count("done") == 1
    assert found[-1]["type"] == "done"
    assert len({event["run_id"] for event in found}) == 1
    assert len({event["session_id"] for event in found}) == 1
    return found


def stored_events(run_id: str) -> list[dict]:
    return list(RunEvent.objects.filter(run_id=run_id).order_by("seq").values_list("data", flat=True))


def test_simple_route_streams_contract_frames_and_headers(stub_model, asgi_live_server, user):
    stub_model.queue(Text("Hello there, how can I help?"))
    client = asgi_live_server.client(user)

    with client.send("hi") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        assert stream.headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in stream.headers
        body = stream.read_rest()

    found = assert_contract_stream(body)
    types = [event["type"] for event in found]
    assert types[:2] == ["session", "analysis"] and set(types[2:-1]) == {"text"}
    assert found[1]["strategy"] == "simple"
    assert "".join(event["delta"] for event in found if event["type"] == "text") == "Hello there, how can I help?"
    done = found[-1]
    assert done["status"] == "completed" and done["message_id"]
    assert done["usage"]["llm_calls"] == 1 and done["usage"]["total_tokens"] > 0
    run = Run.objects.get(pk=found[0]["run_id"])
    assert run.status == Run.Status.COMPLETED and run.user == user
    assert stored_events(run.pk) == found


def test_tool_route_streams_tool_call_and_result(stub_model, asgi_live_server, user):
    stub_model.queue(ToolCalls([("calculate", {"expression": "17*23"})]), Text("17*23 is 391."))
    with asgi_live_server.client(user).send("what is 17*23?") as stream:
        found = assert_contract_stream(stream.read_rest())

    by_type = {event["type"]: event for event in found}
    assert by_type["analysis"]["strategy"] == "tool"
    assert by_type["tool_call"]["tool"] == "calculate" and by_type["tool_call"]["agent_kind"] == "planner"
    assert by_type["tool_result"]["ok"] is True and by_type["tool_result"]["call_id"] == by_type["tool_call"]["call_id"]
    assert found[-1]["status"] == "completed" and found[-1]["usage"]["llm_calls"] == 2


def test_complex_route_streams_plan_steps_executors_and_answer(stub_model, asgi_live_server, user):
    def reply(request):
        if is_routing(request):
            return plan("Compare", [("x", "Research X"), ("y", "Research Y"), ("r", "Recommend", ["x", "y"])])
        if is_executor(request):
            return Text(f"Findings: {last_user_text(request)[:30]}")
        return Text("X wins.")

    stub_model.responder = reply
    with asgi_live_server.client(user).send("compare X and Y") as stream:
        found = assert_contract_stream(stream.read_rest())

    types = [event["type"] for event in found]
    assert types.index("plan_created") < types.index("executor_spawned") < types.index("executor_result")
    assert types.count("executor_spawned") == 3 and types.count("step_complete") == 3
    plan_event = found[types.index("plan_created")]
    assert [step["title"] for step in plan_event["plan"]["steps"]] == ["Research X", "Research Y", "Recommend"]
    assert found[-1]["status"] == "completed" and found[-1]["usage"]["llm_calls"] == 5
    assert "".join(event["delta"] for event in found if event["type"] == "text") == "X wins."


def test_model_text_cannot_forge_a_frame(stub_model, asgi_live_server, user):
    forged = 'Look:\n\nid: 99\ndata: {"type":"done","seq":99}\n\nevent: x\r\n'
    stub_model.queue(Text(forged, chunks=[forged]))
    with asgi_live_server.client(user).send("hi") as stream:
        body = stream.read_rest()

    found = assert_contract_stream(body)
    deltas = [event["delta"] for event in found if event["type"] == "text"]
    assert deltas == [forged], "the whole text arrives as one JSON-encoded delta"
    assert "\nid: 99" not in body and max(event["seq"] for event in found) < 99


def test_disconnect_after_three_events_then_resume_gets_exactly_the_rest(stub_model, asgi_live_server, user):
    words = [f"word{i} " for i in range(12)]
    stub_model.queue(Text(chunks=words, chunk_delay=0.05))
    client = asgi_live_server.client(user)

    with client.send("tell me something long") as stream:
        first = stream.events(limit=3)
    assert [event["seq"] for event in first] == [1, 2, 3]
    run_id = first[0]["run_id"]
    assert Run.objects.get(pk=run_id).status in Run.ACTIVE_STATUSES, "the run is still going after the disconnect"
    wait_until(lambda: views.open_streams() == 0, "the server closed the abandoned stream")

    with client.join(run_id, last_event_id=3) as stream:
        rest = stream.events()
    assert [event["seq"] for event in rest] == list(range(4, rest[-1]["seq"] + 1))
    assert rest[-1]["type"] == "done" and rest[-1]["status"] == "completed"

    whole = first + rest
    assert "".join(event["delta"] for event in whole if event["type"] == "text") == "".join(words)
    with client.join(run_id) as stream:
        replay = assert_contract_stream(stream.read_rest())
    assert replay == whole == stored_events(run_id)


def test_two_clients_on_one_run_receive_identical_streams(stub_model, asgi_live_server, user):
    gate = threading.Event()
    parts = [f"part{i} " for i in range(8)]

    def reply(request):
        gate.wait(10)  # hold the model call until both clients listen
        return Text(chunks=parts, chunk_delay=0.02)

    stub_model.responder = reply
    first_client, second_client = asgi_live_server.client(user), asgi_live_server.client(user)
    try:
        with first_client.send("hi") as first:
            run_id = first.events(limit=1)[0]["run_id"]
            with second_client.join(run_id) as second:
                gate.set()
                first_body, second_body = first.read_rest(), second.read_rest()
    finally:
        gate.set()
    first_frames = [frame.raw for frame in parse_sse(first_body) if frame.comment is None]
    assert first_frames == [frame.raw for frame in parse_sse(second_body) if frame.comment is None]
    found = assert_contract_stream(first_body)
    assert "".join(event["delta"] for event in found if event["type"] == "text") == "".join(parts)


def test_resume_of_a_finished_run_replays_the_rest_and_closes(stub_model, asgi_live_server, user):
    stub_model.queue(Text(chunks=["a ", "b ", "c"], chunk_delay=0.06))
    client = asgi_live_server.client(user)
    with client.send("hi") as stream:
        whole = stream.events()
    run_id, last = whole[0]["run_id"], whole[-1]["seq"]

    with client.join(run_id, last_event_id=2) as stream:
        assert [event["seq"] for event in stream.events()] == list(range(3, last + 1))
    with client.stream("GET", f"/api/agent/runs/{run_id}/stream?last_event_id={last - 1}") as stream:
        assert stream.events() == [whole[-1]]
    with client.join(run_id, last_event_id=last) as stream:
        assert stream.status_code == 200
        assert stream.read_rest() == "", "the client already has done: nothing more, and the stream closes"
    # The header wins over the query string (EventSource reconnects send the header).
    with client.stream("GET", f"/api/agent/runs/{run_id}/stream?last_event_id=1", headers={"Last-Event-ID": "4"}) as s:
        assert [event["seq"] for event in s.events()] == list(range(5, last + 1))


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "99999999999"])
def test_bad_last_event_id_answers_400(asgi_live_server, user, value):
    run = make_run(user)
    client = asgi_live_server.client(user)
    with client.join(run.pk, last_event_id=value) as stream:
        assert stream.status_code == 400
        assert stream.json()["error"]["code"] == "invalid_last_event_id"
    response = client.get(f"/api/agent/runs/{run.pk}/stream", params={"last_event_id": value})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_last_event_id"


@pytest.mark.parametrize("value", ["\u0663", " 3", "3 ", "+3", "1_0", "03 "])
def test_last_event_id_in_the_query_is_ascii_digits_only(asgi_live_server, user, value):
    """`\\d` and int() take other scripts' digits, blanks, signs and underscores; the schema's integer does not."""
    run = make_run(user)
    for _ in range(3):
        events.emit(run, session_event(run))
    client = asgi_live_server.client(user)

    response = client.get(f"/api/agent/runs/{run.pk}/stream", params={"last_event_id": value})

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_last_event_id"
    with client.stream("GET", f"/api/agent/runs/{run.pk}/stream?last_event_id=0000000002") as stream:
        assert stream.status_code == 200
        assert [event["seq"] for event in stream.events(limit=1)] == [3]


def test_last_event_id_beyond_the_run_answers_400(asgi_live_server, user):
    run = make_run(user)
    events.emit(run, session_event(run))
    with asgi_live_server.client(user).join(run.pk, last_event_id=2) as stream:
        assert stream.status_code == 400
        assert stream.json()["error"]["code"] == "invalid_last_event_id"


def test_cancel_mid_run_ends_the_stream_with_done_cancelled(stub_model, asgi_live_server, user):
    stub_model.queue(Text(chunks=[f"w{i} " for i in range(200)], chunk_delay=0.02))
    client = asgi_live_server.client(user)
    with client.send("write a long essay") as stream:
        started = stream.events(limit=3)
        run_id = started[0]["run_id"]
        response = client.post(f"/api/agent/runs/{run_id}/cancel")
        assert response.status_code == 202
        assert response.json() == {"run_id": run_id, "status": "running"}
        rest = stream.events()
    assert rest[-1]["type"] == "done" and rest[-1]["status"] == "cancelled"
    assert sum(event["type"] == "text" for event in started + rest) < 200, "the run stopped early"
    run = Run.objects.get(pk=run_id)
    assert run.status == Run.Status.CANCELLED
    again = client.post(f"/api/agent/runs/{run_id}/cancel")
    assert again.status_code == 202 and again.json() == {"run_id": run_id, "status": "cancelled"}


def test_idle_stream_sends_keep_alive_and_wakes_on_a_new_event(asgi_live_server, user, settings):
    settings.AGENT_STREAM_KEEPALIVE = 0.2
    run = make_run(user)  # queued, never handed to a runner: the stream stays idle
    with asgi_live_server.client(user).join(run.pk) as stream:
        frames = iter(stream)
        assert next(frames).raw == ": keep-alive"
        assert next(frames).raw == ": keep-alive"
        done = events.emit(run, done_event())
        received = [frame for frame in frames if frame.comment is None]
    assert [frame.event for frame in received] == [RunEvent.objects.get(run=run, seq=done).data]


def test_post_stream_of_an_idempotent_retry_joins_the_same_run(stub_model, asgi_live_server, user):
    stub_model.queue(Text("Only once."))
    client = asgi_live_server.client(user)
    headers = {"Idempotency-Key": "retry-42"}
    with client.send("hello", headers=headers) as stream:
        first = stream.events()
    with client.send("hello", headers=headers) as stream:
        assert stream.status_code == 200
        second = stream.events()
    assert second == first, "the retry replays the same run from seq 1"
    assert len(stub_model.requests) == 1 and Run.objects.count() == 1

    with client.send("another body", headers=headers) as stream:
        assert stream.status_code == 422
        assert stream.json()["error"]["code"] == "idempotency_key_reused"
    assert Run.objects.count() == 1


@pytest.fixture
def ticket_context():
    """Register a context provider for `ticket` (a type a project would add) for one test."""
    context.context_provider("ticket")(lambda *, user, entity_id: f"Ticket {entity_id}")
    yield
    context.unregister("ticket")


def test_session_event_describes_the_session(stub_model, asgi_live_server, user, ticket_context):
    stub_model.queue(Text("ok"))
    with asgi_live_server.client(user).send("hi", context_type="ticket", entity_id="T-7") as stream:
        session = stream.events()[0]["session"]
    assert session["context_type"] == "ticket" and session["entity_id"] == "T-7"
    assert session["title"] and datetime.fromisoformat(session["created_at"].replace("Z", "+00:00"))
    wait_for_runs_to_finish()


def test_a_stream_sees_a_run_executing_in_another_process_through_redis(asgi_live_server, user, monkeypatch):
    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()  # fails loudly when Redis is down
    channel = f"agents:test-stream:{time.monotonic_ns()}"
    this_process, other_process = RedisBus(REDIS_URL, channel=channel), RedisBus(REDIS_URL, channel=channel)
    previous = bus.set_bus(this_process)
    this_process.start()
    assert this_process.subscribed.wait(5)
    monkeypatch.setattr(views, "STREAM_POLL_SECONDS", 30.0)  # only a wake-up can deliver within the test
    try:
        run = make_run(user)
        with asgi_live_server.client(user).join(run.pk) as stream:
            wait_until(lambda: this_process.listener_count() == 1, "the stream waits on the bus")
            # The other process's emit() publishes on its own bus; nothing wakes this process locally.
            monkeypatch.setattr(events, "bus", other_process)
            started = time.monotonic()
            events.emit(run, done_event())
            found = stream.events()
        assert [event["type"] for event in found] == ["done"]
        assert time.monotonic() - started < 5
    finally:
        bus.set_bus(previous)
        this_process.close()
        other_process.close()


def test_idle_streams_hold_no_thread(asgi_live_server, user, settings):
    settings.AGENT_STREAM_KEEPALIVE = 30
    settings.AGENT_MAX_STREAMS_PER_USER = 100
    run = make_run(user)
    client = asgi_live_server.client(user)
    streams = 30
    threads_before = threading.active_count()
    with contextlib.ExitStack() as stack:
        for _ in range(streams):
            stack.enter_context(client.join(run.pk))
        wait_until(lambda: views.open_streams() == streams, "every stream is open")
        wait_until(lambda: bus.get_bus().listener_count() >= streams, "every stream waits on the bus")
        grown = threading.active_count() - threads_before
    assert grown < streams / 3, f"{grown} threads for {streams} idle streams"


def test_live_frames_come_from_memory_and_replays_send_the_stored_text(asgi_live_server, user, stub_model, monkeypatch):
    from agents.runs import selectors as run_selectors

    reads = []
    original = run_selectors.run_frames_after

    def counting(**kwargs):
        reads.append(kwargs["after_seq"])
        return original(**kwargs)

    monkeypatch.setattr(run_selectors, "run_frames_after", counting)
    stub_model.queue(Text("one two three four five six seven eight", chunks=8, chunk_delay=0.08))
    client = asgi_live_server.client(user)
    with client.send("count") as stream:
        live = stream.frames()
    events = [frame.event for frame in live if frame.data is not None]
    assert events[-1]["type"] == "done" and len(events) >= 6
    assert len(reads) <= 2, f"a live stream read the database {len(reads)} times for {len(events)} events"
    stored = list(RunEvent.objects.filter(run_id=events[0]["run_id"]).order_by("seq").values_list("frame", flat=True))
    assert [frame.data for frame in live if frame.data is not None] == stored, "live frames are the stored text"
    with client.join(events[0]["run_id"], last_event_id=0) as replay:
        assert [frame.data for frame in replay.frames() if frame.data is not None] == stored
    previous = bus.set_bus(bus.LocalBus())  # a process that never saw the run: it must read the database
    try:
        reads.clear()
        with client.join(events[0]["run_id"], last_event_id=0) as replay:
            replayed = [frame.data for frame in replay.frames() if frame.data is not None]
    finally:
        bus.set_bus(previous)
    assert replayed == stored and reads == [0], "a replay from the database sends the stored text"
