"""``GET /api/sessions/<session_id>/stream``: one connection for every run of a session, in order.

The per-conversation subscription that WebSocket clients expect, over SSE.
Frames are the runs' stored events, with ids ``<run_id>:<seq>``. Without
``Last-Event-ID`` the feed starts at the session's active run (from its first
event), or waits for the next run; with ``Last-Event-ID: <run_id>:<seq>`` it
replays the rest of that run and every later run of the session, then tails
live. It stays open between runs (``: keep-alive``) and ends only when the
client leaves or the session is deleted.

It reuses the run stream's machinery (``streams``): shared reads per run,
the bus, stream slots, and no thread or connection held while it waits. A new
run of the session is announced on the bus under ``session:<id>`` by
admission; the poll covers a lost notice.
"""

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from agents.events import bus
from agents.http import streams
from agents.http.authentication import authenticate
from agents.http.threads import in_thread, release_request_thread
from agents.runs import selectors
from agents.runtime import worker
from agents_platform.errors import DomainError, InvalidInput, error_response
from sessions import selectors as session_selectors

logger = logging.getLogger(__name__)

FEED_EVENT_ID = re.compile(r"(?P<run>[0-9a-fA-F-]{36}):(?P<seq>[0-9]{1,10})")


def _cursor(request: HttpRequest) -> tuple[str, int] | None:
    """Return (run id, seq) from Last-Event-ID (header, else ?last_event_id=), or None."""
    for name, value in (
        ("Last-Event-ID", request.headers.get("Last-Event-ID")),
        ("last_event_id", request.GET.get("last_event_id")),
    ):
        if value is None:
            continue
        match = FEED_EVENT_ID.fullmatch(value.strip())
        if match is None:
            raise InvalidInput(
                f"{name} must be an event id of this feed, <run_id>:<seq>.",
                code="invalid_last_event_id",
                fields={name: ["Must be <run_id>:<seq>."]},
            )
        return match["run"].lower(), int(match["seq"])
    return None


def _start(*, user: AbstractBaseUser, session_id: str, cursor: tuple[str, int] | None) -> dict:
    """Check the session is the user's and find where the feed starts."""
    session = session_selectors.session_get(user=user, session_id=session_id)
    if cursor is not None:
        run = selectors.session_run(session=session, run_id=cursor[0])
        if run is None or cursor[1] > run.last_event_seq:
            raise InvalidInput(
                "Last-Event-ID names no event of this session.",
                code="invalid_last_event_id",
                fields={"Last-Event-ID": ["No such event in this session."]},
            )
        if cursor[1] == run.last_event_seq and run.status in run.FINAL_STATUSES:
            # The client has this run's `done`: the feed goes on with the runs after it.
            return {"session_id": str(session.pk), "run": None, "previous": run, "after_seq": 0, "since": None}
        return {"session_id": str(session.pk), "run": run, "previous": run, "after_seq": cursor[1], "since": None}
    active = selectors.session_active_run(session=session)
    # With no run to follow, the feed follows the runs created from the moment the client was answered.
    since = None if active is not None else timezone.now()
    return {"session_id": str(session.pk), "run": active, "previous": active, "after_seq": 0, "since": since}


def _next_run(*, session_id: str, after) -> tuple[object | None, bool]:
    """Return the session's next run after ``after`` (a run, or None: the first from now on), and if it is gone."""
    run = selectors.session_next_run(session_id=session_id, after=after)
    gone = run is None and not session_selectors.session_exists(session_id=session_id)
    return run, gone


async def _feed(
    *, session_id: str, run, previous, after_seq: int, since: datetime | None, user_id: int
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    keepalive = settings.AGENT_STREAM_KEEPALIVE
    poll = min(streams.STREAM_POLL_SECONDS, keepalive)
    last_write = loop.time()
    current = run  # the run the feed is on; None between runs
    notice_key = bus.session_key(session_id)
    streams.count_stream(+1)
    try:
        await release_request_thread()
        while True:
            wait_key, wait_after = notice_key, _notice_mark()
            try:
                if current is None:
                    nxt, gone = await in_thread(_next_run, session_id=session_id, after=previous or since)
                    if gone:
                        return
                    if nxt is not None:
                        current, after_seq = nxt, 0
                        continue
                else:
                    batch, gone = await streams.next_batch(str(current.pk), after_seq)
                    if batch:
                        chunk, after_seq, finished = streams.encode_batch(batch, f"{current.pk}:{{}}".format)
                        yield chunk
                        last_write = loop.time()
                        if finished:
                            previous, current = current, None
                        continue
                    if gone:
                        previous, current = current, None
                        continue
                    wait_key, wait_after = str(current.pk), after_seq
            except DatabaseError:
                logger.warning("Feed of session %s: reading failed", session_id, exc_info=True)
            idle = loop.time() - last_write
            if idle >= keepalive:
                yield streams.KEEPALIVE_FRAME
                streams.streams_refresh(user_id=user_id)
                last_write, idle = loop.time(), 0.0
            await bus.wait(wait_key, wait_after, timeout=min(poll, keepalive - idle))
    finally:
        streams.count_stream(-1)
        streams.streams_release(user_id=user_id)


def _notice_mark() -> int:
    return int(time.time() * 1000)


@csrf_exempt  # a GET; token clients carry no CSRF token
async def session_stream(request: HttpRequest, session_id: str) -> HttpResponse:
    """Follow every run of one of your sessions, in order, on one connection."""
    worker.ensure_maintenance()
    try:
        streams.require_method(request, "GET")
        user = await authenticate(request)
        cursor = _cursor(request)
        start = await in_thread(_start, user=user, session_id=session_id, cursor=cursor)
        await in_thread(streams.streams_acquire, user_id=user.pk)
    except DomainError as error:
        return error_response(error)
    return streams.sse_response(
        _feed(
            session_id=start["session_id"],
            run=start["run"],
            previous=start["previous"],
            after_seq=start["after_seq"],
            since=start["since"],
            user_id=user.pk,
        )
    )
