"""The event-stream views: ``POST /api/agent/stream`` and ``GET /api/agent/runs/<id>/stream``.

Plain ``async def`` Django views (DRF views are sync), so one process holds
thousands of streams. They never run agent code and never open a
transaction: the checks and writes are sync services called through
``threads.in_thread`` (the shared pool, each call giving its database
connection back before it returns); who is asking is ``authentication``'s.

A stream is an async generator: read the events after the last seq sent
(in batches), send them as SSE frames, and when there are none, wait on the
bus with a short timeout (the poll that covers a lost wake-up), sending a
``: keep-alive`` comment at least every ``AGENT_STREAM_KEEPALIVE`` seconds.
It ends after ``done``. While it waits it holds no thread and no database
connection, only a future (its first step lets the request's own thread go:
``threads.release_request_thread``). A client that goes away cancels the
generator; the run, which executes elsewhere, does not notice.

Frames (docs/events.md#frames) are ``id: <seq>\\ndata: <json>\\n\\n`` where the
JSON is the stored event, dumped on one line with non-ASCII escaped, so model
text can never break a line, forge a frame or an id.
"""

import asyncio
import json
import logging
import re
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from agents import events
from agents.events import bus
from agents.exceptions import TooManyStreams
from agents.http.authentication import authenticate
from agents.http.serializers import stream_request
from agents.http.threads import in_thread, release_request_thread
from agents.runs import selectors
from agents.runtime import admission, worker
from agents.telemetry import metrics
from agents_platform.errors import (
    DomainError,
    InvalidInput,
    MethodNotAllowed,
    error_response,
)

logger = logging.getLogger(__name__)

# Longest a stream waits on the bus before it reads the database again anyway.
STREAM_POLL_SECONDS = 2.0
# Events read and sent per database query (replays of long runs come in batches).
EVENT_BATCH = 1000  # a 1,000-event replay is one read
KEEPALIVE_FRAME = b": keep-alive\n\n"
# ASCII digits only (`\d` also takes other scripts' digits, which int() reads), at most 10 (the schema's maximum).
LAST_EVENT_ID = re.compile(r"[0-9]{1,10}")


# --- The stream --------------------------------------------------------------


_streams_lock = threading.Lock()
_open_streams = 0


def open_streams() -> int:
    """Return how many event streams this process is serving now."""
    return _open_streams


def count_stream(delta: int) -> None:
    global _open_streams
    with _streams_lock:
        _open_streams += delta
    metrics.streams_changed(delta)


def encode_batch(batch: list[tuple[int, str, str]], event_id) -> tuple[bytes, int, bool]:
    """Return a batch's frames up to and including `done`, the last seq sent, and whether `done` was in it.

    ``event_id(seq)`` is the frame id (a run stream's seq; a session feed's ``<run_id>:<seq>``). The
    stored JSON goes out as it is: one string joined and encoded once per batch.
    """
    frames, last_seq, finished = [], 0, False
    for seq, event_type, data in batch:
        frames.append(f"id: {event_id(seq)}\ndata: {data}\n\n")
        last_seq = seq
        if event_type == events.DONE:
            finished = True
            break
    return "".join(frames).encode(), last_seq, finished


def _read_events(*, run_id: str, after_seq: int) -> tuple[list[tuple[int, str, str]], bool]:
    """Return the run's next stored events after ``after_seq`` (seq, type, JSON text), and whether it is gone."""
    batch = selectors.run_frames_after(run_id=run_id, after_seq=after_seq, limit=EVENT_BATCH)
    gone = not batch and selectors.run_deleted(run_id=run_id)
    return batch, gone


# --- Stream slots: at most AGENT_MAX_STREAMS_PER_USER open streams per user ----


def _slots_key(user_id: int) -> str:
    return f"agent-streams:{user_id}"


def _slots_ttl() -> int:
    # Refreshed by every keep-alive; a count left by a killed process fades once the user's streams are idle.
    return int(max(60.0, 4 * settings.AGENT_STREAM_KEEPALIVE))


def streams_acquire(*, user_id: int) -> None:
    """Take one of the user's stream slots (shared cache: across processes), or raise TooManyStreams."""
    key = _slots_key(user_id)
    cache.add(key, 0, _slots_ttl())
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, _slots_ttl())
        count = 1
    if count > settings.AGENT_MAX_STREAMS_PER_USER:
        streams_release(user_id=user_id)
        raise TooManyStreams(retry_after=int(settings.AGENT_STREAM_KEEPALIVE))
    cache.touch(key, _slots_ttl())


def streams_release(*, user_id: int) -> None:
    """Give a stream slot back."""
    try:
        if cache.decr(_slots_key(user_id)) < 0:
            cache.set(_slots_key(user_id), 0, _slots_ttl())
    except ValueError:
        pass  # the count expired: nothing to give back


def streams_refresh(*, user_id: int) -> None:
    cache.touch(_slots_key(user_id), _slots_ttl())


# Reads in flight per event loop, by (run id, after seq). Streams of one run
# that are caught up wake together on each new event and ask the same
# question; the first asks the database, the rest share its answer (frames
# included, encoded once in the worker thread). 500 listeners of a run cost
# one query per event, not 500.
_reads_in_flight: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()


async def next_batch(run_id: str, after_seq: int) -> tuple[list[tuple[int, str, str]], bool]:
    """Return the next frames: from memory when the bus holds them (live), else from the database (replay)."""
    live = bus.frames_after(run_id, after_seq)
    if live:
        return live, False
    loop = asyncio.get_running_loop()
    in_flight = _reads_in_flight.setdefault(loop, {})
    key = (run_id, after_seq)
    read = in_flight.get(key)
    if read is None:
        read = loop.create_task(in_thread(_read_events, run_id=run_id, after_seq=after_seq))
        in_flight[key] = read

        def forget(done: asyncio.Task) -> None:
            if in_flight.get(key) is done:
                del in_flight[key]
            if not done.cancelled():
                done.exception()  # retrieved here, so a read whose listeners all left logs no warning

        read.add_done_callback(forget)
    # Shielded: a listener that goes away must not cancel the read the others wait for.
    return await asyncio.shield(read)


# Turns a batch of stored frames into bytes to send: (bytes, last seq read, whether the stream is over).
BatchEncoder = Callable[[list[tuple[int, str, str]]], tuple[bytes, int, bool]]


def _our_frames(batch: list[tuple[int, str, str]]) -> tuple[bytes, int, bool]:
    return encode_batch(batch, int)


async def event_stream(
    *,
    run_id: str,
    after_seq: int,
    finished: bool,
    user_id: int,
    encode: BatchEncoder = _our_frames,
    closing: bytes = b"",
) -> AsyncIterator[bytes]:
    """Yield the run's SSE frames after ``after_seq``, then tail it live until ``done``; holds one stream slot.

    ``encode`` turns stored frames into what is sent (our frames, or another
    protocol's: ``agui``, ``aisdk``) and says when the stream is over;
    ``closing`` is sent after the last frame when the stream ends that way.
    """
    loop = asyncio.get_running_loop()
    keepalive = settings.AGENT_STREAM_KEEPALIVE
    poll = min(STREAM_POLL_SECONDS, keepalive)
    last_write = loop.time()
    count_stream(+1)
    try:
        await release_request_thread()
        while not finished:
            try:
                batch, gone = await next_batch(run_id, after_seq)
            except DatabaseError:
                # Keep the client; try again after a poll (the database may be restarting).
                logger.warning("Stream of run %s: reading events failed", run_id, exc_info=True)
                batch, gone = [], False
            if batch:
                chunk, after_seq, finished = encode(batch)
                if finished:
                    chunk += closing
                if chunk:
                    yield chunk
                    last_write = loop.time()
                if finished or len(batch) == EVENT_BATCH:
                    continue  # done, or more stored events to replay before waiting
            elif gone:
                return  # the run was deleted (its session was): nothing more will come
            idle = loop.time() - last_write
            if idle >= keepalive:
                yield KEEPALIVE_FRAME
                streams_refresh(user_id=user_id)
                last_write, idle = loop.time(), 0.0
            await bus.wait(run_id, after_seq, timeout=min(poll, keepalive - idle))
    except asyncio.CancelledError:
        logger.debug("Stream of run %s: client went away after seq %s", run_id, after_seq)
        raise
    finally:
        count_stream(-1)
        streams_release(user_id=user_id)


def sse_response(stream: AsyncIterator[bytes]) -> StreamingHttpResponse:
    """Return an event-stream response of an async iterator of frames."""
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _stream_response(*, run_id: str, after_seq: int, user_id: int, finished: bool = False) -> StreamingHttpResponse:
    return sse_response(event_stream(run_id=run_id, after_seq=after_seq, finished=finished, user_id=user_id))


# --- Views -------------------------------------------------------------------


def json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body)
    except RequestDataTooBig:
        raise InvalidInput("The body is too large.", code="body_too_large") from None
    # JSONDecodeError and UnicodeDecodeError both are ValueErrors; json recurses per nesting level.
    except (ValueError, RecursionError):
        raise InvalidInput("The body must be valid JSON.", code="invalid_json") from None


def require_method(request: HttpRequest, allowed: str) -> None:
    if request.method != allowed:
        raise MethodNotAllowed(f"Method {request.method} not allowed.", headers={"Allow": allowed})


@csrf_exempt  # CSRF is checked in authenticate(), for cookie requests only (as DRF does)
async def agent_stream(request: HttpRequest) -> HttpResponse:
    """Send a message, start a run and stream its events from the first one."""
    worker.ensure_maintenance()
    try:
        require_method(request, "POST")
        user = await authenticate(request)
        payload = json_body(request)
        await in_thread(streams_acquire, user_id=user.pk)
        try:
            fields = stream_request(payload)
            run, _ = await in_thread(
                admission.run_accept, user=user, idempotency_key=request.headers.get("Idempotency-Key"), **fields
            )
        except BaseException:
            streams_release(user_id=user.pk)
            raise
    except DomainError as error:
        return error_response(error)
    return _stream_response(run_id=str(run.pk), after_seq=0, user_id=user.pk)


def _last_event_id(request: HttpRequest) -> tuple[int, str]:
    """Return the seq the client already has and where it said so: the Last-Event-ID header, else the query."""
    for name, value in (
        ("Last-Event-ID", request.headers.get("Last-Event-ID")),
        ("last_event_id", request.GET.get("last_event_id")),
    ):
        if value is None:
            continue
        # Not stripped: the HTTP server already took the blanks around a header, and a query value is exact.
        if not LAST_EVENT_ID.fullmatch(value):
            raise InvalidInput(
                f"{name} must be a non-negative integer of at most 10 digits.",
                code="invalid_last_event_id",
                fields={name: ["Must be a non-negative integer of at most 10 digits."]},
            )
        return int(value), name
    return 0, "Last-Event-ID"


def _join(*, user: AbstractBaseUser, run_id: str, after_seq: int, source: str) -> tuple[str, bool]:
    """Return the user's run id and whether the client already has its ``done``."""
    run = selectors.run_get(user=user, run_id=run_id)
    if after_seq > run.last_event_seq:
        raise InvalidInput(
            f"{source} {after_seq} is beyond the run's last event ({run.last_event_seq}).",
            code="invalid_last_event_id",
            fields={source: ["Beyond the run's last event."]},
        )
    finished = after_seq > 0 and selectors.run_event_is_done(run_id=run.pk, seq=after_seq)
    return str(run.pk), finished


@csrf_exempt  # a GET; nothing to protect, and token clients carry no CSRF token
async def run_stream(request: HttpRequest, run_id: str) -> HttpResponse:
    """Join a run's stream: replay what the client missed, then tail it live until ``done``."""
    worker.ensure_maintenance()
    try:
        require_method(request, "GET")
        user = await authenticate(request)
        after_seq, source = _last_event_id(request)
        run_id, finished = await in_thread(_join, user=user, run_id=run_id, after_seq=after_seq, source=source)
        await in_thread(streams_acquire, user_id=user.pk)
    except DomainError as error:
        return error_response(error)
    return _stream_response(run_id=run_id, after_seq=after_seq, finished=finished, user_id=user.pk)
