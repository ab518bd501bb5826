"""Plans, their steps and dependency edges, and the executions that work on steps."""

import uuid

from django.db import models
from django.db.models import Q

from agents.models.agents import Agent
from agents.models.fields import cost_field, cost_known_field
from agents.models.runs import Run


class Plan(models.Model):
    """One version of the planner's plan for a complex run (version 1 is the first; each revision adds one)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="plans")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="plans", help_text="The planner.")
    objective = models.TextField()
    version = models.PositiveIntegerField(default=1, help_text="1 for the first plan, 2 for its first revision, …")
    previous = models.OneToOneField(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="revision",
        help_text="The version this one revises; its completed steps are kept here.",
    )
    revision_reason = models.TextField(blank=True, default="", help_text="Why the plan was revised (version > 1).")
    revision_declined = models.BooleanField(
        default=False, help_text="The planner was asked to revise this version and declined; synthesis went on."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "version"]
        constraints = [
            models.UniqueConstraint(fields=["run", "version"], name="plan_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="plan_version_positive"),
        ]

    def __str__(self) -> str:
        return self.objective[:80] if self.version == 1 else f"{self.objective[:72]} (v{self.version})"


class PlanStepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


class PlanStep(models.Model):
    """One step of a plan; runs in its own executor once its dependencies completed."""

    Status = PlanStepStatus

    FINISHED_STATUSES = (Status.COMPLETED, Status.FAILED, Status.SKIPPED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=64, help_text="The step id the planner gave it, unique within the plan.")
    position = models.PositiveIntegerField(help_text="Order in the plan as written.")
    title = models.CharField(max_length=300)
    instructions = models.TextField()
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, through="PlanStepDependency", related_name="dependents", blank=True
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    result = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    kept_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kept_as",
        help_text="A completed step of the previous plan version, kept with its result (not run again).",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="planstep_unique_key"),
            models.UniqueConstraint(fields=["plan", "position"], name="planstep_unique_position"),
            models.CheckConstraint(
                condition=Q(status__in=PlanStepStatus.values),
                name="planstep_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.title}"


class PlanStepDependency(models.Model):  # noqa: DJ008 (an edge, shown only inline)
    """An edge of a plan's graph: ``step`` waits for ``depends_on``.

    Both ends must belong to the same plan; a database trigger (migration
    0002) refuses an edge across plans, whatever code writes it.
    """

    step = models.ForeignKey(PlanStep, on_delete=models.CASCADE, related_name="dependency_edges")
    depends_on = models.ForeignKey(PlanStep, on_delete=models.CASCADE, related_name="dependent_edges")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "depends_on"], name="planstepdep_unique"),
            models.CheckConstraint(condition=~Q(step=models.F("depends_on")), name="planstepdep_not_self"),
        ]


class ExecutionStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted (its worker was lost or drained; the step ran again)"


class Execution(models.Model):
    """One executor's work on one step."""

    Status = ExecutionStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="executions")
    step = models.ForeignKey(PlanStep, on_delete=models.CASCADE, related_name="executions")
    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="execution")
    task = models.TextField(help_text="What the executor was asked to do.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    result = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    llm_calls = models.PositiveIntegerField(default=0)
    cost_usd = cost_field("US dollars of the executor's LLM calls.")
    cost_known = cost_known_field()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at"]
        indexes = [models.Index(fields=["run", "status"], name="execution_run_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ExecutionStatus.values),
                name="execution_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Execution {self.id} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None
