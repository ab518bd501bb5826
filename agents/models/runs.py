"""The run: one user message being answered, from queued to done."""

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

from agents.models.fields import cost_field, cost_known_field

if TYPE_CHECKING:
    from agents.models.plans import Plan


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted"


class RunRoute(models.TextChoices):
    SIMPLE = "simple", "Simple"
    TOOL = "tool", "Tool"
    COMPLEX = "complex", "Complex"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


class Run(models.Model):
    """One user message being answered, from queued to done."""

    Status = RunStatus

    ACTIVE_STATUSES = ACTIVE_STATUSES
    FINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED)

    Route = RunRoute

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey("chat_sessions.ChatSession", on_delete=models.CASCADE, related_name="runs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_runs")
    user_message = models.ForeignKey(
        "chat_sessions.Message",
        on_delete=models.CASCADE,
        related_name="runs_answering",
        help_text="The user's message this run answers.",
    )
    assistant_message = models.ForeignKey(
        "chat_sessions.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runs_written",
        help_text="The answer, once stored.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    route = models.CharField(max_length=16, choices=Route.choices, blank=True, default="")
    route_reason = models.TextField(blank=True, default="", help_text="Why the planner chose the route.")
    # NULL, not "", means "no key": the partial unique constraint skips NULLs.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, help_text="Client's Idempotency-Key; unique per user while kept."
    )
    request_hash = models.CharField(
        max_length=64, blank=True, default="", help_text="SHA-256 of the request body the key was first used with."
    )
    cancel_requested = models.BooleanField(default=False, help_text="Set by cancel; agents stop at the next check.")
    on_hold = models.BooleanField(
        default=False,
        help_text="Queued behind the session's active run (multitask enqueue or interrupt); "
        "no owner may claim it until that run ends and it is the session's next.",
    )
    owner = models.CharField(
        max_length=128, blank=True, default="", help_text="The process holding the run's lease (host:pid:nonce)."
    )
    lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Running: the owner's lease ends then, and another process may take the run over. "
        "Queued: the sweeper hands the run to a runner again after then.",
    )
    attempt = models.PositiveIntegerField(
        default=0, help_text="How many times an owner claimed the run (1: first start)."
    )
    resume_reason = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="Why the next attempt resumes the run: worker_lost, drained, approval.",
    )
    approval_resumes = models.PositiveIntegerField(
        default=0,
        help_text="Attempts that began because a decision resumed the waiting run; not counted against "
        "AGENT_MAX_ATTEMPTS (those count lost or drained owners).",
    )
    review_plan = models.BooleanField(
        default=False, help_text="The user asked to approve, edit or reject the plan before any executor starts."
    )
    last_event_seq = models.PositiveIntegerField(default=0, help_text="Seq of the newest stored event.")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    llm_calls = models.PositiveIntegerField(default=0)
    reserved_tokens = models.PositiveIntegerField(default=0, help_text="Tokens reserved from the user's budget.")
    cost_usd = cost_field("US dollars of all the run's LLM calls.")
    cost_known = cost_known_field()
    trace_id = models.CharField(
        max_length=32, blank=True, default="", help_text="OpenTelemetry trace id (32 hex digits) when traced."
    )
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.TextField(blank=True, default="", help_text="What the user is told.")
    error_detail = models.TextField(
        blank=True,
        default="",
        help_text="For operators only: the cause as logged (secrets masked); never sent to users.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="run_user_created"),
            models.Index(fields=["session", "-created_at"], name="run_session_created"),
            models.Index(fields=["status", "lease_until"], name="run_status_lease"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(status__in=list(ACTIVE_STATUSES), on_hold=False),
                name="run_one_active_per_session",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="run_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values),
                name="run_status_valid",
            ),
            models.CheckConstraint(condition=Q(route__in=["", *RunRoute.values]), name="run_route_valid"),
        ]

    def __str__(self) -> str:
        return f"Run {self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def plan(self) -> "Plan | None":
        """The run's current plan: its newest version (None before a plan is stored); uses prefetched ``plans``."""
        prefetched = getattr(self, "_prefetched_objects_cache", {}).get("plans")
        if prefetched is not None:
            return max(prefetched, key=lambda plan: plan.version, default=None)
        return self.plans.order_by("-version").first()

    @property
    def attempts_counted(self) -> int:
        """Return the attempts AGENT_MAX_ATTEMPTS counts: all but those a decision on an approval began."""
        return self.attempt - self.approval_resumes

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from start (or, for a run that never started, from creation) to finish."""
        if self.finished_at:
            return int((self.finished_at - (self.started_at or self.created_at)).total_seconds() * 1000)
        return None
