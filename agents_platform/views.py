"""Project-level views: health and the API docs."""

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView

from agents_platform.middleware import policy_header


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is the answer, not a crash
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _check_cache() -> str:
    try:
        cache.set("healthz", "ok", 5)
        if cache.get("healthz") != "ok":
            return "error: value not read back"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _live_workers() -> dict:
    from agents.runs import selectors  # the engine's reads; imported late so a broken app still answers health

    try:
        live = selectors.workers_live(within_seconds=settings.AGENT_LEASE_SECONDS)
    except Exception as exc:
        return {"state": f"error: {exc.__class__.__name__}", "live": 0}
    celery = [worker for worker in live if worker.kind == "celery"]
    return {
        "state": "ok",
        "live": len(celery) if settings.AGENT_RUNNER == "celery" else len(live),
        "names": [worker.name for worker in (celery if settings.AGENT_RUNNER == "celery" else live)],
        "draining": sum(1 for worker in live if worker.draining),
    }


@require_GET
def healthz(request):
    """Report the state of the database, the cache, the bus and the runners; 503 when the database or cache is down."""
    database = _check_database()
    cache_state = _check_cache()
    healthy = database == "ok" and cache_state == "ok"
    body = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "database_vendor": connection.vendor,
        "cache": cache_state,
        "cache_backend": caches["default"].__class__.__name__,
        "bus": "redis" if settings.REDIS_URL else "in-process",
        "runner": settings.AGENT_RUNNER,
        "workers": _live_workers() if database == "ok" else {"state": "unknown", "live": 0},
    }
    if settings.AGENT_MCP_SERVERS:
        # A server that is down withdraws its tools; it never makes the platform unhealthy.
        from agents.tools import mcp as mcp_tools

        body["mcp"] = {
            name: {"up": state["up"], "tools": len(state["tools"])} for name, state in mcp_tools.statuses().items()
        }
    return JsonResponse(body, status=200 if healthy else 503)


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI, its start-up script served as a file of its own (``?script``), so no inline script runs.

    Its page has a small inline ``<style>`` and Swagger UI styles its own
    elements, so this page alone allows inline styles; scripts stay 'self'.
    """

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = policy_header(
            {**settings.CONTENT_SECURITY_POLICY, "style-src": "'self' 'unsafe-inline'"}
        )
        return response
