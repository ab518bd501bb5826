"""System checks of the engine's configuration (``manage.py check``, ``check --deploy``)."""

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import Tags, Warning, register

from agents_platform.async_middleware import middleware_checks


@register(Tags.caches)
def check_limits_are_shared(app_configs=None, **kwargs) -> list[Warning]:
    """Warn when the limits live in one process's memory while several processes serve.

    The message rate, token budgets and failed sign-in counts are kept in the
    default cache. LocMem (no ``REDIS_URL``) is one process's own: with
    ``WEB_CONCURRENCY`` above 1 each web process would allow the full limit,
    and with another runner than ``thread`` the workers settle budgets where
    the web process never sees them. One process (the embedded default) is fine.
    """
    processes = []
    if settings.WEB_CONCURRENCY > 1:
        processes.append(f"WEB_CONCURRENCY={settings.WEB_CONCURRENCY}")
    if settings.AGENT_RUNNER != "thread":
        processes.append(f"AGENT_RUNNER={settings.AGENT_RUNNER}")
    if not processes or not isinstance(caches["default"], LocMemCache):
        return []
    return [
        Warning(
            "Rate limits, token budgets and sign-in limits are kept per process (LocMemCache), "
            f"but several processes serve ({', '.join(processes)}): each would allow the full limit.",
            hint="Set REDIS_URL so every process shares them, or serve from one process.",
            id="agents.W001",
        )
    ]


# The security middleware checks Django runs by class name, for the project's async subclasses (deploy only).
register(middleware_checks, Tags.security, deploy=True)
