"""A busy session (docs/api.md, `multitask`): reject, enqueue, interrupt, over a real ASGI server.

The second message of a session whose run is still going is refused (409,
the default), queued behind it (its POST streams it once it starts, queued
runs start in order, whatever ended the one before: an answer, a cancel, a
failure), or sent with the active run cancelled first. The model is the stub
over the real openai SDK; streams are read over real HTTP.
"""

import itertools
import os
import threading
import uuid
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agents.models import Run
from agents.runs import queue, selectors, services
from agents.runtime import sweeper
from tests.factories import make_run
from tests.support.live_server import LiveClient, wait_until
from tests.support.processes import Web, Worker, check_redis, platform_env
from tests.support.stub_model import Error, Text, last_user_text

pytestmark = pytest.mark.django_db(transaction=True)

STREAM_TIMEOUT = 30.0


class Post(threading.Thread):
    """POST /api/agent/stream in the background and keep every event of the response's stream."""

    def __init__(self, client: LiveClient, message: str, **body):
        super().__init__(daemon=True)
        self.client, self.body = client, {"message": message, **body}
        self.status: int | None = None
        self.error_body: dict | None = None
        self.events: list[dict] = []
        self.failure: BaseException | None = None
        self.started_stream = threading.Event()

    def run(self):
        try:
            with self.client.stream("POST", "/api/agent/stream", json=self.body) as stream:
                self.status = stream.status_code
                if stream.status_code != 200:
                    self.error_body = stream.json()
                    return
                self.started_stream.set()
                for frame in stream:
                    if frame.data is not None:
                        self.events.append(frame.event)
                        if frame.event["type"] == "done":
                            return
        except BaseException as exc:  # reported by result()
            self.failure = exc
        finally:
            self.started_stream.set()

    def result(self, timeout: float = STREAM_TIMEOUT) -> list[dict]:
        self.join(timeout)
        assert not self.is_alive(), f"the stream did not end in {timeout} s: {[e['type'] for e in self.events]}"
        assert self.failure is None, f"the stream failed: {self.failure!r}"
        assert self.status == 200, self.error_body
        return self.events

    @property
    def run_id(self) -> str | None:
        return self.events[0]["run_id"] if self.events else None


def gated_responder(gates: dict[str, threading.Event], replies: dict[str, object]):
    """Answer by the user's message: wait for its gate (if any), then give its reply (default: an echo)."""

    def reply(request):
        text = last_user_text(request)
        gate = gates.get(text)
        if gate is not None:
            assert gate.wait(STREAM_TIMEOUT), f"gate of {text!r} never opened"
        return replies.get(text, Text(f"answer to {text}"))

    return reply


def slow_text() -> Text:
    """An answer that streams for ~20 s unless its run is cancelled."""
    return Text("word " * 400, chunks=400, chunk_delay=0.05)


def started(post: Post) -> str:
    """Wait for a POST's first event; return its run id."""
    wait_until(lambda: post.events or post.failure or post.status not in (None, 200), "the run's first event", 10)
    assert post.events and post.events[0]["type"] == "session", (post.status, post.error_body, post.failure)
    return post.run_id


def model_asked(stub_model, message: str) -> None:
    """Wait until the model was asked about the message (a run cancelled before that never asks it)."""
    wait_until(
        lambda: any(last_user_text(request) == message for request in stub_model.requests),
        f"the model is asked {message!r}",
        timeout=10,
    )


def queued_run(session_id: str, message: str) -> Run:
    """Wait until the message's run is stored; return it."""
    wait_until(
        lambda: Run.objects.filter(session_id=session_id, user_message__content=message).exists(),
        f"the run of {message!r} is stored",
        timeout=10,
    )
    return Run.objects.get(session_id=session_id, user_message__content=message)


def test_reject_is_the_default_and_answers_409_with_the_active_run(stub_model, asgi_live_server, user):
    gate = threading.Event()
    stub_model.responder = gated_responder({"first": gate}, {})
    client = asgi_live_server.client(user)
    first = Post(client, "first")
    first.start()
    run_id = started(first)
    session_id = first.events[0]["session_id"]
    try:
        for body in ({}, {"multitask": "reject"}, {"multitask": None}):
            with client.send("second", session_id=session_id, **body) as stream:
                assert stream.status_code == 409
                error = stream.json()["error"]
            assert error["code"] == "run_active" and error["run_id"] == run_id
        assert Run.objects.filter(session_id=session_id).count() == 1, "nothing stored for a refused message"
    finally:
        gate.set()
    assert first.result()[-1]["status"] == "completed"


def test_an_unknown_strategy_is_refused(stub_model, asgi_live_server, user):
    with asgi_live_server.client(user).send("hi", multitask="later") as stream:
        assert stream.status_code == 400
        error = stream.json()["error"]
    assert error["code"] == "invalid_multitask" and "multitask" in error["fields"]
    assert not Run.objects.exists()


def test_enqueue_streams_the_second_run_once_the_first_has_ended(stub_model, asgi_live_server, user):
    gate = threading.Event()
    stub_model.responder = gated_responder({"first": gate}, {"first": Text("the first answer")})
    client = asgi_live_server.client(user)
    first = Post(client, "first")
    first.start()
    first_id = started(first)
    session_id = first.events[0]["session_id"]

    second = Post(client, "second", session_id=session_id, multitask="enqueue")
    second.start()
    held = queued_run(session_id, "second")
    assert held.status == Run.Status.QUEUED and held.on_hold, "it waits behind the active run"
    assert second.events == [], "nothing streams before it starts"
    gate.set()

    first_events, second_events = first.result(), second.result()
    assert first_events[-1]["status"] == "completed"
    assert second_events[0]["type"] == "session" and second_events[0]["run_id"] == str(held.pk)
    assert second_events[0]["session"]["id"] == session_id
    assert [event["seq"] for event in second_events] == list(range(1, len(second_events) + 1))
    assert second_events[-1]["status"] == "completed"
    assert "".join(e["delta"] for e in second_events if e["type"] == "text") == "answer to second"
    runs = {str(run.pk): run for run in Run.objects.filter(session_id=session_id)}
    assert runs[str(held.pk)].started_at >= runs[first_id].finished_at, "the second started after the first ended"
    # The second run's planner saw the first's answer: it was stored before the second began.
    second_request = next(r for r in stub_model.requests if last_user_text(r) == "second")
    assert {"role": "assistant", "content": "the first answer"} in second_request["messages"]


def test_queued_runs_start_in_order_after_a_cancel_and_a_failure(stub_model, asgi_live_server, user):
    stub_model.responder = gated_responder({}, {"first": slow_text(), "second": Error(400, "refused")})
    client = asgi_live_server.client(user)
    first = Post(client, "first")
    first.start()
    started(first)
    session_id = first.events[0]["session_id"]
    posts = {}
    for message in ("second", "third", "fourth"):
        posts[message] = Post(client, message, session_id=session_id, multitask="enqueue")
        posts[message].start()
        queued_run(session_id, message)  # stored in this order
    model_asked(stub_model, "first")
    assert client.post(f"/api/agent/runs/{first.run_id}/cancel").status_code == 202

    assert first.result()[-1]["status"] == "cancelled"
    assert posts["second"].result()[-1]["status"] == "failed"
    assert posts["third"].result()[-1]["status"] == "completed"
    assert posts["fourth"].result()[-1]["status"] == "completed"
    runs = list(Run.objects.filter(session_id=session_id).order_by("started_at"))
    assert [run.user_message.content for run in runs] == ["first", "second", "third", "fourth"]
    for earlier, later in itertools.pairwise(runs):
        assert later.started_at >= earlier.finished_at, f"{later.user_message.content} overlapped"
    asked = [last_user_text(request) for request in stub_model.requests]
    assert asked == ["first", "second", "third", "fourth"], "the model was asked in the queue's order"


def test_interrupt_cancels_the_active_run_and_the_queued_ones_then_starts(stub_model, asgi_live_server, user):
    stub_model.responder = gated_responder({}, {"first": slow_text()})
    client = asgi_live_server.client(user)
    first = Post(client, "first")
    first.start()
    started(first)
    session_id = first.events[0]["session_id"]
    waiting = Post(client, "waiting", session_id=session_id, multitask="enqueue")
    waiting.start()
    queued_run(session_id, "waiting")
    model_asked(stub_model, "first")

    now = Post(client, "now", session_id=session_id, multitask="interrupt")
    now.start()
    first_events, waiting_events, now_events = first.result(), waiting.result(), now.result()

    assert first_events[-1]["status"] == "cancelled"
    # The queued run never started: its stream is its `session` and its `done`.
    assert [e["type"] for e in waiting_events] == ["session", "done"] and waiting_events[-1]["status"] == "cancelled"
    assert now_events[0]["type"] == "session" and now_events[-1]["status"] == "completed"
    runs = {run.user_message.content: run for run in Run.objects.filter(session_id=session_id)}
    assert runs["now"].started_at >= runs["first"].finished_at
    assert runs["waiting"].started_at is None and runs["waiting"].llm_calls == 0
    assert [last_user_text(r) for r in stub_model.requests] == ["first", "now"]


def test_interrupt_or_enqueue_on_an_idle_session_starts_at_once(stub_model, asgi_live_server, user):
    stub_model.responder = gated_responder({}, {})
    client = asgi_live_server.client(user)
    with client.send("one") as stream:
        session_id = stream.events()[0]["session_id"]
    for strategy in ("enqueue", "interrupt"):
        with client.send(strategy, session_id=session_id, multitask=strategy) as stream:
            found = stream.events()
        assert found[-1]["status"] == "completed", strategy
    assert not Run.objects.filter(on_hold=True).exists()


def test_cancelling_a_queued_run_ends_it_at_once_and_the_active_one_goes_on(stub_model, asgi_live_server, user):
    gate = threading.Event()
    stub_model.responder = gated_responder({"first": gate}, {})
    client = asgi_live_server.client(user)
    first = Post(client, "first")
    first.start()
    started(first)
    session_id = first.events[0]["session_id"]
    second = Post(client, "second", session_id=session_id, multitask="enqueue")
    second.start()
    held = queued_run(session_id, "second")

    response = client.post(f"/api/agent/runs/{held.pk}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert [e["type"] for e in second.result()] == ["session", "done"]
    assert Run.objects.get(pk=first.run_id).status == Run.Status.RUNNING
    gate.set()
    assert first.result()[-1]["status"] == "completed"
    assert [last_user_text(r) for r in stub_model.requests] == ["first"]


# --- The queue without a server ------------------------------------------------


def test_a_held_run_cannot_be_claimed(user):
    active = make_run(user)
    held, _ = services.run_create(user=user, message="next", session_id=active.session_id, multitask=queue.ENQUEUE)
    assert held.on_hold
    assert services.run_claim(run_id=held.pk, owner="someone") is None
    due = selectors.runs_waiting_in_queue(limit=10, created_before=timezone.now() + timedelta(hours=1))
    assert [run.pk for run in due] == [active.pk], "the sweeper never hands a held run to a runner"


def test_the_sweeper_starts_a_queue_whose_promotion_was_lost(user, monkeypatch):
    submitted = []
    monkeypatch.setattr(sweeper.runners, "submit", submitted.append)
    active = make_run(user)
    held, _ = services.run_create(user=user, message="next", session_id=active.session_id, multitask=queue.ENQUEUE)
    later, _ = services.run_create(user=user, message="later", session_id=active.session_id, multitask=queue.ENQUEUE)
    # The active run ends without its after-commit promotion (a crash between the two commits).
    Run.objects.filter(pk=active.pk).update(status=Run.Status.COMPLETED)
    assert sweeper.sweep()["promoted"] == [str(held.pk)]
    held.refresh_from_db()
    later.refresh_from_db()
    assert not held.on_hold and later.on_hold, "one at a time, the oldest first"
    assert str(held.pk) in map(str, submitted), "the promoted run was handed to the runner"
    assert sweeper.sweep()["promoted"] == [], "nothing more while it is active"


# --- With Celery workers (the durability tests' processes) ------------------------


def test_enqueue_with_celery_workers_starts_the_next_run_when_a_worker_ends_the_first(stub_model, tmp_path, user):
    """The web process admits; whichever worker ends a run submits the session's next one through the broker."""
    check_redis()
    stub_model.responder = gated_responder({}, {"first": slow_text()})
    redis_db = _redis_db()
    env = platform_env(
        redis_db=redis_db,
        broker_url=f"redis://127.0.0.1:6379/{redis_db}",
        CACHE_KEY_PREFIX=f"agents-test-{uuid.uuid4().hex[:12]}",
        CELERY_QUEUE=f"agents-{uuid.uuid4().hex[:12]}",
        AGENT_RUNNER="celery",
        AGENT_LEASE_SECONDS="3",
        AGENT_WORKER_CONCURRENCY="2",
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=stub_model.base_url,
        OPENAI_API_KEY="test",
    )
    processes = [Web(env, tmp_path), Worker(env, tmp_path, name="worker1"), Worker(env, tmp_path, name="worker2")]
    try:
        for process in processes:
            process.start()
        web = processes[0]
        web.wait_healthy(workers=2)
        client = LiveClient(web.url, headers={"Authorization": f"Token {Token.objects.create(user=user).key}"})
        first = Post(client, "first")
        first.start()
        started(first)
        session_id = first.events[0]["session_id"]
        posts = [Post(client, message, session_id=session_id, multitask="enqueue") for message in ("second", "third")]
        for post, message in zip(posts, ("second", "third"), strict=True):
            post.start()
            queued_run(session_id, message)
        model_asked(stub_model, "first")
        assert client.post(f"/api/agent/runs/{first.run_id}/cancel").status_code == 202

        assert first.result(60)[-1]["status"] == "cancelled"
        for post in posts:
            found = post.result(60)
            assert found[0]["type"] == "session" and found[-1]["status"] == "completed", [e["type"] for e in found]
        runs = list(Run.objects.filter(session_id=session_id).order_by("started_at"))
        assert [run.user_message.content for run in runs] == ["first", "second", "third"]
        for earlier, later in itertools.pairwise(runs):
            assert later.started_at >= earlier.finished_at
        client.close()
    finally:
        for process in reversed(processes):
            process.stop()


def _redis_db() -> int:
    """Return the Redis database of this test process (REDIS_URL), else the durability tests' one."""
    path = urlparse(os.environ.get("REDIS_URL") or "").path.strip("/")
    return int(path) if path.isdigit() else 13
