"""The session feed (one connection for every run of a session), the per-user stream cap, and CORS."""

import threading

import pytest

from agents.models import Run
from tests.support.live_server import wait_until
from tests.support.stub_model import Text

pytestmark = pytest.mark.django_db(transaction=True)


class FeedReader(threading.Thread):
    """Read a session feed in the background until ``stop_after`` `done` events."""

    def __init__(self, client, session_id, *, stop_after: int, headers=None):
        super().__init__(daemon=True)
        self.client, self.session_id, self.stop_after, self.headers = client, session_id, stop_after, headers or {}
        self.frames = []
        self.opened = threading.Event()
        self.error = None

    def run(self):
        try:
            with self.client.stream("GET", f"/api/sessions/{self.session_id}/stream", headers=self.headers) as stream:
                self.status = stream.status_code
                self.opened.set()
                done = 0
                for frame in stream:
                    self.frames.append(frame)
                    if frame.data is not None and frame.event["type"] == "done":
                        done += 1
                        if done == self.stop_after:
                            return
        except BaseException as exc:
            self.error = exc
            self.opened.set()


def feed_events(reader):
    return [frame for frame in reader.frames if frame.data is not None]


def test_the_feed_follows_every_run_of_the_session_in_order(asgi_live_server, user, stub_model):
    stub_model.responder = lambda request: Text("An answer.", chunks=3)
    client = asgi_live_server.client(user)
    with client.send("first") as stream:
        first = stream.events()
    session_id = first[0]["session_id"]
    reader = FeedReader(client, session_id, stop_after=2)
    reader.start()
    assert reader.opened.wait(5) and reader.status == 200
    with client.send("second", session_id=session_id) as stream:
        second = stream.events()
    with client.send("third", session_id=session_id) as stream:
        third = stream.events()
    reader.join(15)
    assert not reader.is_alive() and reader.error is None
    got = [frame.event for frame in feed_events(reader)]
    assert got == second + third, "the active-less feed starts with the next run and follows the one after"
    assert [frame.id for frame in feed_events(reader)] == [f"{event['run_id']}:{event['seq']}" for event in got]


def test_the_feed_resumes_from_an_event_id_across_runs(asgi_live_server, user, stub_model):
    stub_model.responder = lambda request: Text("An answer.", chunks=3)
    client = asgi_live_server.client(user)
    with client.send("first") as stream:
        first = stream.events()
    session_id = first[0]["session_id"]
    with client.send("second", session_id=session_id) as stream:
        second = stream.events()
    cursor = f"{first[2]['run_id']}:{first[2]['seq']}"
    reader = FeedReader(client, session_id, stop_after=2, headers={"Last-Event-ID": cursor})
    reader.start()
    reader.join(15)
    assert reader.error is None
    assert [frame.event for frame in feed_events(reader)] == first[3:] + second


def test_the_feed_after_a_runs_done_starts_with_the_next_run_and_stays_open_between_runs(
    asgi_live_server, user, stub_model, settings
):
    settings.AGENT_STREAM_KEEPALIVE = 0.3
    stub_model.responder = lambda request: Text("An answer.")
    client = asgi_live_server.client(user)
    with client.send("first") as stream:
        first = stream.events()
    session_id = first[0]["session_id"]
    cursor = f"{first[-1]['run_id']}:{first[-1]['seq']}"
    reader = FeedReader(client, session_id, stop_after=1, headers={"Last-Event-ID": cursor})
    reader.start()
    wait_until(lambda: any(frame.comment == "keep-alive" for frame in reader.frames), "a keep-alive between runs", 5)
    with client.send("second", session_id=session_id) as stream:
        second = stream.events()
    reader.join(15)
    assert [frame.event for frame in feed_events(reader)] == second


def test_the_feed_refuses_bad_ids_and_other_users_sessions(asgi_live_server, user, other_user, stub_model):
    stub_model.responder = lambda request: Text("An answer.")
    mine = asgi_live_server.client(user)
    with mine.send("first") as stream:
        first = stream.events()
    session_id = first[0]["session_id"]
    theirs = asgi_live_server.client(other_user)
    with theirs.stream("GET", f"/api/sessions/{session_id}/stream") as stream:
        assert stream.status_code == 404 and stream.json()["error"]["code"] == "session_not_found"
    for bad in ("3", f"{first[0]['run_id']}:x", f"{first[0]['run_id']}:999"):
        with mine.stream("GET", f"/api/sessions/{session_id}/stream", headers={"Last-Event-ID": bad}) as stream:
            assert stream.status_code == 400 and stream.json()["error"]["code"] == "invalid_last_event_id", bad
    with asgi_live_server.client().stream("GET", f"/api/sessions/{session_id}/stream") as stream:
        assert stream.status_code == 401


def test_a_deleted_session_ends_its_feed(asgi_live_server, user, stub_model):
    from sessions.models import ChatSession

    stub_model.responder = lambda request: Text("An answer.")
    client = asgi_live_server.client(user)
    with client.send("first") as stream:
        session_id = stream.events()[0]["session_id"]
    reader = FeedReader(client, session_id, stop_after=1)
    reader.start()
    assert reader.opened.wait(5) and reader.status == 200
    ChatSession.objects.filter(pk=session_id).delete()
    reader.join(10)
    assert not reader.is_alive(), "the feed ended with its session"


def test_one_stream_more_than_the_cap_answers_429_and_a_closed_one_frees_its_slot(
    asgi_live_server, user, other_user, settings
):
    settings.AGENT_MAX_STREAMS_PER_USER = 2
    settings.AGENT_STREAM_KEEPALIVE = 30
    run = Run.objects.get(pk=_queued_run(user))
    client = asgi_live_server.client(user)
    first = client.join(run.pk)
    one = first.__enter__()
    with client.join(run.pk) as two:
        assert one.status_code == two.status_code == 200
        with client.join(run.pk) as three:
            assert three.status_code == 429
            body = three.json()
            assert body["error"]["code"] == "too_many_streams" and three.headers["Retry-After"]
        with client.send("hello") as refused:
            assert refused.status_code == 429, "a POST that would open a stream is refused too, before any run"
        assert Run.objects.count() == 1
        other = asgi_live_server.client(other_user)
        with other.stream("GET", "/api/sessions/00000000-0000-0000-0000-000000000000/stream") as stream:
            assert stream.status_code == 404, "another user's streams do not count"
    first.__exit__(None, None, None)
    wait_until(lambda: _can_open(client, run.pk), "closed streams gave their slots back", timeout=5)


def _queued_run(user):
    from tests.factories import make_run

    return make_run(user).pk


def _can_open(client, run_id) -> bool:
    with client.join(run_id) as stream:
        return stream.status_code == 200


def test_cors_preflight_and_headers_on_the_api_and_a_stream(asgi_live_server, user, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    client = asgi_live_server.client(user)
    run_id = _queued_run(user)
    preflight = client.http.options(
        "/api/agent/stream",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, last-event-id",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "idempotency-key" in allowed and "last-event-id" in allowed
    with client.stream(
        "GET", f"/api/agent/runs/{run_id}/stream", headers={"Origin": "https://app.example.com"}
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == "https://app.example.com"
    api = client.get("/api/sessions/", headers={"Origin": "https://app.example.com"})
    assert api.headers["access-control-allow-origin"] == "https://app.example.com"
    stranger = client.get("/api/sessions/", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in stranger.headers
    page = client.get("/healthz", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in page.headers, "only the API"
