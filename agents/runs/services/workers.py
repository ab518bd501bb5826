"""The registry of live worker processes (their heartbeats)."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from agents.models import WorkerProcess


def worker_register(*, name: str, kind: str, concurrency: int) -> None:
    """Record a live worker process (or refresh it)."""
    WorkerProcess.objects.update_or_create(
        name=name, defaults={"kind": kind, "concurrency": concurrency, "beat_at": timezone.now(), "draining": False}
    )


def worker_beat(*, name: str, draining: bool) -> None:
    """Record that a worker process is alive (and whether it drains)."""
    WorkerProcess.objects.filter(pk=name).update(beat_at=timezone.now(), draining=draining)


def worker_unregister(*, name: str) -> None:
    """Forget a worker process that stopped; also forget ones silent for an hour."""
    WorkerProcess.objects.filter(Q(pk=name) | Q(beat_at__lt=timezone.now() - timedelta(hours=1))).delete()
