"""Reads of what users and the platform spent: tokens and dollars per day, per month, in the last hour.

The stored LLM calls (``AgentMessage`` rows of role assistant) are the
truth; days are UTC days.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from agents.llm.usage import Usage
from agents.models import AgentMessage, Run, WorkerProcess
from agents.runs.selectors import day_bounds

TOTALS = {
    "prompt_tokens": Sum("prompt_tokens", default=0),
    "completion_tokens": Sum("completion_tokens", default=0),
    "cached_tokens": Sum("cached_tokens", default=0),
    "llm_calls": Count("id"),
    "cost_usd": Sum("cost_usd", default=Decimal(0)),
    # 1 when every call was priced (Min of booleans is not portable; counted instead).
    "unpriced_calls": Count("id", filter=Q(cost_known=False)),
}


def _calls(**filters: Any):
    return AgentMessage.objects.filter(role=AgentMessage.Role.ASSISTANT, **filters)


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    """Return a row of sums as the API reports usage: the counters of ``Usage`` and the cached tokens."""
    usage = Usage(
        prompt_tokens=row.get("prompt_tokens") or 0,
        completion_tokens=row.get("completion_tokens") or 0,
        cached_tokens=row.get("cached_tokens") or 0,
        llm_calls=row.get("llm_calls") or 0,
        cost_usd=row.get("cost_usd") or Decimal(0),
        cost_known=not row.get("unpriced_calls"),
    )
    return {**usage.counters(), "cached_tokens": usage.cached_tokens}


def user_usage_between(*, user: AbstractBaseUser, start: datetime, end: datetime) -> dict[str, Any]:
    """Return the user's tokens, calls and dollars of the calls stored in [start, end)."""
    return _shape(_calls(run__user=user, created_at__gte=start, created_at__lt=end).aggregate(**TOTALS))


def user_usage_by_day(*, user: AbstractBaseUser, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """Return one row per UTC day from ``last_day`` back to ``first_day`` (days without calls included)."""
    start, _ = day_bounds(first_day)
    _, end = day_bounds(last_day)
    rows = (
        _calls(run__user=user, created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(**TOTALS)
    )
    by_day = {row["day"]: _shape(row) for row in rows}
    days = []
    day = last_day
    while day >= first_day:
        days.append({"date": day, **(by_day.get(day) or _shape({}))})
        day -= timedelta(days=1)
    return days


def platform_usage_since(*, since: datetime) -> dict[str, Any]:
    """Return every user's tokens, calls and dollars since a time, in total and by model."""
    calls = _calls(created_at__gte=since)
    total = _shape(calls.aggregate(**TOTALS))
    by_model = [
        {"model": row["model"], **_shape(row)} for row in calls.values("model").annotate(**TOTALS).order_by("model")
    ]
    return {**total, "by_model": by_model}


def runs_by_status() -> dict[str, int]:
    """Return how many runs have each status (every status, zeros included)."""
    counts = dict(Run.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {status: counts.get(status, 0) for status in Run.Status.values}


def oldest_queued_at() -> datetime | None:
    """Return when the oldest queued run was created, if any."""
    return Run.objects.filter(status=Run.Status.QUEUED).aggregate(oldest=Min("created_at"))["oldest"]


def workers_with_runs(*, within_seconds: float) -> list[dict[str, Any]]:
    """Return the live worker processes with how many running runs each holds."""
    live = WorkerProcess.objects.filter(beat_at__gte=timezone.now() - timedelta(seconds=within_seconds))
    held = dict(
        Run.objects.filter(status=Run.Status.RUNNING, owner__in=[w.name for w in live])
        .values_list("owner")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        {
            "name": worker.name,
            "kind": worker.kind,
            "concurrency": worker.concurrency,
            "draining": worker.draining,
            "beat_at": worker.beat_at,
            "running_runs": held.get(worker.name, 0),
        }
        for worker in live
    ]
