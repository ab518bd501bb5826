"""What the engine stores: runs, agents, plans, steps, executions, LLM conversations, events, memories."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

# US dollars, to a ten-billionth (agents.llm.prices.COST_PLACES): a call of a few tokens still costs something.
COST_DIGITS, COST_PLACES = 20, 10


def cost_field(help_text: str) -> models.DecimalField:
    return models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES, default=0, help_text=help_text)


def cost_known_field() -> models.BooleanField:
    return models.BooleanField(
        default=True, help_text="False when a call's model has no known price (it was counted as 0)."
    )


# Status choices live at module level, each named inside its model too (``Run.Status``): the
# model's Meta constraints name them, and a nested Meta cannot see the model's own body.
class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted"


RUN_ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


class Run(models.Model):
    """One user message being answered, from queued to done."""

    Status = RunStatus
    ACTIVE_STATUSES = RUN_ACTIVE_STATUSES
    FINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED)

    class Route(models.TextChoices):
        SIMPLE = "simple", "Simple"
        TOOL = "tool", "Tool"
        COMPLEX = "complex", "Complex"

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
                condition=Q(status__in=RUN_ACTIVE_STATUSES, on_hold=False),
                name="run_one_active_per_session",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="run_unique_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="run_status_valid"),
            models.CheckConstraint(condition=Q(route__in=["", "simple", "tool", "complex"]), name="run_route_valid"),
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


class Agent(models.Model):
    """A planner or executor instance working for one run."""

    class Role(models.TextChoices):
        PLANNER = "planner", "Planner"
        EXECUTOR = "executor", "Executor"

    class Permission(models.TextChoices):
        READ_WRITE = "read_write", "Read and write"
        READ_ONLY = "read_only", "Read only"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="agents")
    role = models.CharField(max_length=16, choices=Role.choices)
    model = models.CharField(max_length=200, help_text="Model name every call of this agent uses.")
    permission = models.CharField(max_length=16, choices=Permission.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children", help_text="Spawning agent."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # Executors are read-only by construction, not only by convention.
            models.CheckConstraint(
                condition=~Q(role="executor") | Q(permission="read_only"), name="agent_executor_read_only"
            ),
            models.CheckConstraint(condition=Q(role__in=["planner", "executor"]), name="agent_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.id}"


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
            models.CheckConstraint(condition=Q(status__in=PlanStepStatus.values), name="planstep_status_valid"),
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
            models.CheckConstraint(condition=Q(status__in=ExecutionStatus.values), name="execution_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Execution {self.id} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None


class AgentMessage(models.Model):
    """One message of an agent's own LLM conversation.

    Assistant rows are LLM calls: they carry the call's tokens, latency and
    model. Tool rows carry a tool's result for the call id they answer.
    """

    class Role(models.TextChoices):
        SYSTEM = "system", "System"
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        TOOL = "tool", "Tool"

    id = models.BigAutoField(primary_key=True)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="conversation")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="agent_messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True, default="")
    tool_calls = models.JSONField(
        encoder=DjangoJSONEncoder,
        null=True,
        blank=True,
        help_text="Tool calls the model made: [{id, name, arguments}].",
    )
    tool_call_id = models.CharField(max_length=128, blank=True, default="", help_text="Call a tool row answers.")
    tool_name = models.CharField(max_length=128, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(
        default=0, help_text="Of the prompt tokens, those the provider served from its prompt cache."
    )
    cost_usd = cost_field("US dollars of this LLM call, from its usage and the model's price.")
    cost_known = cost_known_field()
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Wall time of the LLM call.")
    finish_reason = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["agent", "id"], name="agentmessage_agent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["system", "user", "assistant", "tool"]), name="agentmessage_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class RunEvent(models.Model):
    """One event of a run's stream, stored before it is sent; ``seq`` is 1, 2, 3… per run."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    data = models.JSONField(
        encoder=DjangoJSONEncoder, help_text="The whole event as sent, type/run_id/seq/ts included."
    )
    frame = models.TextField(
        blank=True,
        default="",
        help_text="The event as one line of JSON, exactly as streams send it (replays send it as stored).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="runevent_unique_seq"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="runevent_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.type}"


class Memory(models.Model):
    """Something the user asked the assistant to remember."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_memories")
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "memories"
        indexes = [models.Index(fields=["user", "-created_at"], name="memory_user_created")]

    def __str__(self) -> str:
        return self.content[:80]


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired (counts as rejected)"


class Approval(models.Model):
    """A decision the run waits for: a write tool call of the planner, or (plan review) the plan."""

    class Kind(models.TextChoices):
        TOOL = "tool", "Tool call"
        PLAN = "plan", "Plan"

    Status = ApprovalStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="approvals")
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="approvals", help_text="The agent whose call waits."
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    call_id = models.CharField(
        max_length=128, help_text="The model's tool call id (create_plan's for a plan): the call runs once by it."
    )
    tool = models.CharField(max_length=128, blank=True, default="", help_text="The tool's name (kind tool).")
    arguments = models.JSONField(
        encoder=DjangoJSONEncoder, null=True, blank=True, help_text="The arguments as the model sent them."
    )
    plan = models.JSONField(
        encoder=DjangoJSONEncoder, null=True, blank=True, help_text="The plan as in plan_created (kind plan)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_arguments = models.JSONField(
        encoder=DjangoJSONEncoder,
        null=True,
        blank=True,
        help_text="The arguments (or plan steps) the user approved, when edited; null: as proposed.",
    )
    reason = models.TextField(blank=True, default="", help_text="Why, as the user (or the platform) said it.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agent_approvals",
        help_text="Who decided; empty when it expired or the run was cancelled.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="After this, the approval is expired and counts as rejected.")
    result = models.JSONField(
        encoder=DjangoJSONEncoder,
        null=True,
        blank=True,
        help_text="The approved call's outcome, stored in the transaction that ran it (so it runs once).",
    )
    executed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the approved call ran (or the edited plan was announced)."
    )
    announced = models.BooleanField(
        default=False,
        help_text="Its approval_result was emitted: by the decision itself when nobody held the run, "
        "else by the run's owner (the only one who numbers its events).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="approval_status_expires")]
        constraints = [
            models.UniqueConstraint(fields=["run", "call_id"], name="approval_unique_call"),
            models.CheckConstraint(condition=Q(kind__in=["tool", "plan"]), name="approval_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=ApprovalStatus.values), name="approval_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.tool or 'plan'} ({self.status})"

    @property
    def decision(self) -> str | None:
        """Return the decision as events name it (approved, rejected, expired), or None while pending."""
        return None if self.status == self.Status.PENDING else self.status


class WorkerProcess(models.Model):
    """A process that executes runs (a web process's thread runner or a Celery worker), while it lives."""

    class Kind(models.TextChoices):
        THREAD = "thread", "Thread runner (in a web process)"
        CELERY = "celery", "Celery worker"

    name = models.CharField(primary_key=True, max_length=128, help_text="host:pid:nonce, as in Run.owner.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    concurrency = models.PositiveIntegerField(default=1, help_text="Runs it executes at once.")
    draining = models.BooleanField(default=False, help_text="Takes no new run; hands its runs back soon.")
    started_at = models.DateTimeField(auto_now_add=True)
    beat_at = models.DateTimeField(help_text="Last sign of life; live while newer than AGENT_LEASE_SECONDS.")

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "worker"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["thread", "celery"]), name="workerprocess_kind_valid")
        ]

    def __str__(self) -> str:
        return self.name
