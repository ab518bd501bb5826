"""The processes that execute runs, while they live."""

from django.db import models
from django.db.models import Q


class WorkerKind(models.TextChoices):
    THREAD = "thread", "Thread runner (in a web process)"
    CELERY = "celery", "Celery worker"


class WorkerProcess(models.Model):
    """A process that executes runs (a web process's thread runner or a Celery worker), while it lives."""

    Kind = WorkerKind

    name = models.CharField(primary_key=True, max_length=128, help_text="host:pid:nonce, as in Run.owner.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    concurrency = models.PositiveIntegerField(default=1, help_text="Runs it executes at once.")
    draining = models.BooleanField(default=False, help_text="Takes no new run; hands its runs back soon.")
    started_at = models.DateTimeField(auto_now_add=True)
    beat_at = models.DateTimeField(help_text="Last sign of life; live while newer than AGENT_LEASE_SECONDS.")

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "worker"
        constraints = [models.CheckConstraint(condition=Q(kind__in=WorkerKind.values), name="workerprocess_kind_valid")]

    def __str__(self) -> str:
        return self.name
