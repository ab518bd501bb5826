"""Project-level views: health."""

from django.core.cache import cache, caches
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


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


@require_GET
def healthz(request):
    """Report the state of the database and the cache; 503 when either is down."""
    database = _check_database()
    cache_state = _check_cache()
    healthy = database == "ok" and cache_state == "ok"
    body = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "database_vendor": connection.vendor,
        "cache": cache_state,
        "cache_backend": caches["default"].__class__.__name__,
    }
    return JsonResponse(body, status=200 if healthy else 503)
