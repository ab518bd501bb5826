"""Threads and database connections of the async views: borrowed for a call, given back before it returns.

The streaming views run on the event loop. What must be sync (the ORM, the
services) runs in two kinds of thread:

- ``in_thread``: a call in the loop's shared pool
  (``sync_to_async(thread_sensitive=False)``), its database connection given
  back before the result comes back, so a waiting stream holds none.
- the request's own thread: asgiref runs a request's thread-sensitive calls
  (Django's ``request_started`` signal, the session lookup of
  ``request.auser()``) on one thread kept for the whole request. A stream
  lasts minutes, so ``RequestThreads`` (ASGI middleware around Django) gives
  each request a ``RequestThread`` through asgiref's public
  ``ThreadSensitiveContext(executor=...)``, and a stream that has done its
  checks calls ``release_request_thread()`` to close that thread's
  connections and let the thread end. Without the middleware (Django's bare
  ASGI handler) the release closes the connections only.
"""

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections

from agents.runs.connections import release_thread_connections


def _giving_back(func: Callable[..., Any]) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        try:
            return func(**kwargs)
        finally:
            # No stream holds a connection while it waits (SQLite keeps its file handle: reopening costs ~2 ms).
            release_thread_connections()

    return call


async def in_thread(func: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a sync function in the shared thread pool, its connection given back before it returns."""
    return await sync_to_async(_giving_back(func), thread_sensitive=False)(**kwargs)


class RequestThread(Executor):
    """Run one request's thread-sensitive calls on one thread, which the request can let go of early.

    asgiref requires such an executor to run one call at a time on one
    thread; a released one starts a new thread for its next call (Django's
    closing signals, for a moment), after the old one has run its last.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
            return self._pool.submit(fn, *args, **kwargs)

    def release(self) -> None:
        """Let the thread end once its calls have run; a later call starts another."""
        self.shutdown(wait=False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


_request_thread: contextvars.ContextVar[RequestThread | None] = contextvars.ContextVar("request_thread", default=None)


class RequestThreads:
    """ASGI middleware: run each HTTP request's thread-sensitive calls on a ``RequestThread`` of its own.

    Django's handler enters a ``ThreadSensitiveContext`` of its own; inside
    this one, that is a no-op (asgiref: the outermost context decides).
    """

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        thread = RequestThread()
        token = _request_thread.set(thread)
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.app(scope, receive, send)
        finally:
            _request_thread.reset(token)
            # Not waited for: the thread may be finishing a call, and the loop must not block on it.
            thread.shutdown(wait=False)


async def release_request_thread() -> None:
    """Close the connections of this request's thread and let the thread go, for a response that lasts.

    Called once the middleware is done (a stream's first step). Django's
    closing calls at the end of the response get a fresh thread for a moment.
    """
    await sync_to_async(connections.close_all)()  # thread-sensitive: runs on the request's thread, closing its own
    thread = _request_thread.get()
    if thread is not None:
        thread.release()
