"""ASGI entry point: serve with uvicorn (``uvicorn agents_platform.asgi:application --lifespan on``).

Static files are served by Django's own ASGI static handler, so the embedded
platform needs no second server; a production deployment puts a CDN or a
reverse proxy in front of ``collectstatic``'s output instead.

Django's ASGI handler speaks HTTP only, so the ASGI lifespan is answered
here: at startup the runtime's maintenance thread starts (it resumes what an
earlier process left: queued runs, and runs whose owner was a process of this
host that is gone); at shutdown (SIGTERM, Ctrl-C) the process drains: it takes
no new run, lets its runs go on for ``AGENT_DRAIN_SECONDS``, then hands the
rest back, so the next process (or another one) resumes them. The MCP
servers' tools are listed at startup (``AGENT_MCP_SERVERS``); their sessions
close at shutdown, after the drain.
"""

import asyncio
import gc
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agents_platform.settings")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (settings are ready only after setup)
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

logger = logging.getLogger(__name__)


def settle_garbage_collector() -> None:
    """Move everything start-up made out of the collector's sight, and collect the young less often.

    Django, the apps and the SDKs leave ~100k long-lived objects; without this
    every full collection walks them all, pausing every open stream (the
    100-200 ms tails of a 500-stream fan-out). New objects are still collected.
    https://docs.python.org/3/library/gc.html#gc.freeze
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


class Lifespan:
    """Answer the ASGI lifespan protocol: start the runtime, drain it at shutdown; pass HTTP on."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)
        from agents.runtime import worker
        from agents.tools import mcp as mcp_tools

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(worker.ensure_maintenance)
                    await asyncio.to_thread(mcp_tools.ensure_started)
                    settle_garbage_collector()
                except Exception as exc:  # a server that cannot start says why
                    logger.exception("Startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(worker.shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return


from agents.http.threads import RequestThreads  # noqa: E402

http_application = ASGIStaticFilesHandler(django_application) if settings.SERVE_STATIC else django_application
# Each request's thread-sensitive calls on a thread of its own, which a stream lets go of once it streams.
application = Lifespan(RequestThreads(http_application))
