"""A real ASGI server for tests, a real HTTP client for it, and an SSE parser.

The fixture ``asgi_live_server`` (registered in ``tests/conftest.py``) starts
uvicorn with ``agents_platform.asgi:application`` on a free port, in a thread
of the test process: it shares the test database and the settings (change
them with pytest-django's ``settings`` fixture and the server sees it). It
needs a transactional test, because the server's threads use their own
database connections::

    pytestmark = pytest.mark.django_db(transaction=True)

    def test_answer(asgi_live_server, user):
        client = asgi_live_server.client(user)                # Authorization: Token ...
        with client.send("hello") as stream:                  # POST /api/agent/stream
            assert stream.status_code == 200
            events = stream.events()                          # the event dicts, up to and including `done`
        with client.join(events[0]["run_id"], last_event_id=3) as stream:   # GET .../runs/<id>/stream
            rest = stream.events()
        client.get(f"/api/agent/runs/{events[0]['run_id']}")  # any other call: an httpx.Response

``asgi_live_server.client(user, auth="cookie")`` signs in with a session
cookie and sends ``X-CSRFToken`` (``csrf=False`` leaves it out);
``auth=None`` is anonymous. ``parse_sse(text)`` splits a whole body into
frames and fails on anything that is not exactly ``id: <n>\\ndata: <one
line>\\n\\n`` or a ``: comment``. At teardown the server stops and the test
waits for the runs it started to finish, before the database is flushed.
"""

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client as DjangoClient
from django.utils.crypto import get_random_string
from rest_framework.authtoken.models import Token

from agents.runtime import runners

# A run stream's ids are its seq; a session feed's are <run_id>:<seq>.
FRAME_RE = re.compile(r"id: (?P<id>\d+|[0-9a-f-]{36}:\d+)\ndata: (?P<data>[^\n]*)")
COMMENT_RE = re.compile(r":(?P<comment>[^\n]*)")
RUNS_FINISH_TIMEOUT = 30.0


@dataclass(frozen=True)
class SSEFrame:
    """One frame of an event stream: an event (``id`` and ``data``) or a comment."""

    raw: str
    id: int | str | None = None
    data: str | None = None
    comment: str | None = None

    @property
    def event(self) -> dict[str, Any]:
        """Return the frame's data as JSON."""
        assert self.data is not None, f"not an event frame: {self.raw!r}"
        return json.loads(self.data)


def parse_frame(block: str) -> SSEFrame:
    """Parse one frame (without its blank line), exactly as docs/events.md#frames writes them."""
    if match := FRAME_RE.fullmatch(block):
        event_id = match["id"]
        return SSEFrame(raw=block, id=int(event_id) if event_id.isdigit() else event_id, data=match["data"])
    if match := COMMENT_RE.fullmatch(block):
        return SSEFrame(raw=block, comment=match["comment"].strip())
    raise AssertionError(f"malformed SSE frame: {block!r}")


def parse_sse(text: str) -> list[SSEFrame]:
    """Split a whole stream body into frames; every frame must end with a blank line."""
    assert text == "" or text.endswith("\n\n"), f"stream does not end with a blank line: {text[-80:]!r}"
    return [parse_frame(block) for block in text.split("\n\n")[:-1]]


class SSEStream:
    """An open ``text/event-stream`` response, read frame by frame as bytes arrive."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.raw = ""  # everything read so far
        self._buffer = ""
        self._chunks = response.iter_raw() if response.status_code == 200 else iter(())

    def json(self) -> Any:
        """Return the body of an error answered before the stream."""
        self.response.read()
        return self.response.json()

    def __iter__(self) -> Iterator[SSEFrame]:
        while True:
            while "\n\n" in self._buffer:
                block, self._buffer = self._buffer.split("\n\n", 1)
                yield parse_frame(block)
            chunk = next(self._chunks, None)
            if chunk is None:
                assert self._buffer == "", f"stream ended inside a frame: {self._buffer!r}"
                return
            text = chunk.decode()
            self.raw += text
            self._buffer += text

    def frames(self, *, events: int | None = None) -> list[SSEFrame]:
        """Read frames (comments too) up to ``done``, the end of the body, or ``events`` events."""
        frames, count = [], 0
        for frame in self:
            frames.append(frame)
            if frame.data is not None:
                count += 1
                if frame.event["type"] == "done" or count == events:
                    break
        return frames

    def events(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Read events up to ``done`` (or ``limit`` events) and return them as dicts."""
        return [frame.event for frame in self.frames(events=limit) if frame.data is not None]

    def read_rest(self) -> str:
        """Read the body to its end and return everything received since the stream opened."""
        for _ in self:
            pass
        return self.raw


class LiveClient:
    """An httpx client for the live server, signed in one way or another."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, cookies: dict[str, str] | None = None):
        self.http = httpx.Client(
            base_url=base_url,
            headers=headers or {},
            cookies=cookies or {},
            timeout=httpx.Timeout(10.0, read=20.0),
        )

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[SSEStream]:
        """Open any request as an event stream."""
        with self.http.stream(method, path, **kwargs) as response:
            yield SSEStream(response)

    def send(self, message: str | None = "hello", *, headers: dict[str, str] | None = None, **body: Any):
        """POST /api/agent/stream with ``{"message": message, **body}``; a context manager of an SSEStream."""
        payload = {"message": message, **body} if message is not None else body
        return self.stream("POST", "/api/agent/stream", json=payload, headers=headers or {})

    def join(self, run_id: str, *, last_event_id: int | str | None = None, headers: dict[str, str] | None = None):
        """GET /api/agent/runs/<run_id>/stream, resuming after ``last_event_id`` (sent as Last-Event-ID)."""
        headers = dict(headers or {})
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        return self.stream("GET", f"/api/agent/runs/{run_id}/stream", headers=headers)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def close(self) -> None:
        self.http.close()


class LiveServer:
    """uvicorn serving the project's ASGI application from a thread of this process."""

    def __init__(self) -> None:
        from agents_platform.asgi import application

        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the listening
        # socket says it is TCP; without it Nagle holds small SSE frames for a delayed ACK (~40 ms).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, name="asgi-live-server", daemon=True
        )
        self._clients: list[LiveClient] = []

    def start(self) -> "LiveServer":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self._thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def client(self, user: AbstractBaseUser | None = None, *, auth: str | None = "token", csrf: bool = True):
        """Return a client signed in as ``user`` by token (default) or session cookie (``auth="cookie"``)."""
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        if user is not None and auth == "token":
            token, _ = Token.objects.get_or_create(user=user)
            headers["Authorization"] = f"Token {token.key}"
        elif user is not None and auth == "cookie":
            django_client = DjangoClient()
            django_client.force_login(user)
            cookies["sessionid"] = django_client.cookies["sessionid"].value
            secret = get_random_string(32)
            cookies["csrftoken"] = secret
            if csrf:
                headers["X-CSRFToken"] = secret
        elif user is not None:
            raise ValueError(f"unknown auth {auth!r}")
        client = LiveClient(self.url, headers=headers, cookies=cookies)
        self._clients.append(client)
        return client


class StreamReader(threading.Thread):
    """Read one SSE stream to its end in the background, keeping every event."""

    def __init__(self, client: LiveClient, path: str, *, method: str = "GET", **kwargs):
        super().__init__(daemon=True)
        self.client, self.method, self.path, self.kwargs = client, method, path, kwargs
        self.events: list[dict] = []
        self.error: BaseException | None = None

    def run(self):
        try:
            with self.client.stream(self.method, self.path, **self.kwargs) as stream:
                assert stream.status_code == 200, stream.json()
                for frame in stream:
                    if frame.data is not None:
                        self.events.append(frame.event)
                        if frame.event["type"] == "done":
                            return
        except BaseException as exc:  # reported by the test
            self.error = exc

    def of_type(self, type_: str) -> list[dict]:
        return [event for event in list(self.events) if event["type"] == type_]

    def result(self, timeout: float) -> list[dict]:
        self.join(timeout)
        assert not self.is_alive(), f"the stream did not end in {timeout} s; got {[e['type'] for e in self.events]}"
        assert self.error is None, f"the stream failed: {self.error!r}"
        return self.events


def read_until(stream, type_: str) -> list[dict]:
    """Read events from an open stream up to (and including) the first of ``type_``."""
    seen = []
    for frame in stream:
        if frame.data is None:
            continue
        seen.append(frame.event)
        if frame.event["type"] == type_:
            return seen
        assert frame.event["type"] != "done", f"the run ended before {type_}: {[e['type'] for e in seen]}"
    raise AssertionError(f"the stream ended before {type_}")


def wait_until(condition, what: str, timeout: float = 5.0) -> None:
    """Poll ``condition`` every 10 ms until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def wait_for_runs_to_finish(timeout: float = RUNS_FINISH_TIMEOUT) -> None:
    """Wait until the in-process runner has no run left; fail the test if it still has some."""
    current = runners.get_runner()
    if isinstance(current, runners.ThreadRunner):
        assert current.wait_idle(timeout), f"runs still executing after {timeout} s"


@pytest.fixture
def asgi_live_server(transactional_db) -> Iterator[LiveServer]:
    """Serve the project with uvicorn on a free port for one test; see the module docstring."""
    server = LiveServer().start()
    try:
        yield server
    finally:
        server.stop()
        # Runs started by the test must not write into the next test's database.
        wait_for_runs_to_finish()
