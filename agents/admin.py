"""The admin a person uses to inspect what the agents did.

History (runs, agents, plans, steps, executions, LLM conversations, events) is
read-only: it is the record of what happened, so nobody adds, edits or deletes
it here; it goes only with its chat session (sessions/admin.py). Everything the
models wrote is untrusted and rendered through ``format_html``, which escapes it.
"""

import json
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from .events import RESERVED_FIELDS
from .models import Agent, AgentMessage, Execution, Memory, Plan, PlanStep, Run, RunEvent

SUMMARY_CHARS = 160
RESULT_CHARS = 300


# --- Rendering helpers --------------------------------------------------------


def elapsed_ms(origin: datetime | None, moment: datetime | None) -> int | None:
    """Return the milliseconds from ``origin`` to ``moment``, or None when either is unknown."""
    if origin is None or moment is None:
        return None
    return int((moment - origin).total_seconds() * 1000)


def run_origin(run: Run) -> datetime:
    """Return the instant a run's timings count from: when it started, else when it was queued."""
    return run.started_at or run.created_at


def seconds(ms: int | None) -> str:
    """Return milliseconds as seconds with one decimal ("4.3"), or "—" when unknown."""
    return "—" if ms is None else f"{ms / 1000:.1f}"


def usd(value: Any) -> str:
    """Return dollars as people read them: "$0.0123" under a dollar, "$12.50" above; "—" when unknown."""
    if value is None:
        return "—"
    return f"${value:.2f}" if value >= 1 else f"${value:.4f}"


@admin.display(description="Cost", ordering="cost_usd")
def cost_column(self: Any, obj: Any) -> str:
    """The row's ``cost_usd`` in dollars (the stored value has twelve decimal places)."""
    return usd(obj.cost_usd)


def pretty_json(value: Any) -> str:
    """Return a value as indented JSON; a string holding JSON (tool arguments) is parsed first."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def event_summary(data: Any) -> str:
    """Return a one-line ``key=value`` summary of an event's own fields (envelope fields left out)."""
    if not isinstance(data, dict):
        return Truncator(str(data)).chars(SUMMARY_CHARS)
    parts = []
    for key, value in data.items():
        if key in RESERVED_FIELDS:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
        parts.append(f"{key}={shown}")
    return Truncator(" ".join(parts)).chars(SUMMARY_CHARS)


def load_plan_steps(plan: Plan) -> list[PlanStep]:
    """Return a plan's steps in written order with their dependencies loaded (two queries)."""
    return list(plan.steps.prefetch_related("depends_on").order_by("position"))


def plan_waves(steps: list[PlanStep]) -> tuple[list[list[PlanStep]], list[PlanStep]]:
    """Group steps into waves by dependency depth; also return steps caught in a cycle.

    A step with no dependencies is in wave 0; any other step is one wave after
    its deepest dependency, so a wave is what could run at the same time.
    """
    known = {step.pk for step in steps}
    depends = {step.pk: [dep.pk for dep in step.depends_on.all() if dep.pk in known] for step in steps}
    depth: dict[Any, int] = {}
    remaining = list(steps)
    while remaining:
        ready = [step for step in remaining if all(dep in depth for dep in depends[step.pk])]
        if not ready:
            break  # A cycle: the planner validates against it, but stored data is shown, not trusted.
        for step in ready:
            depth[step.pk] = 1 + max((depth[dep] for dep in depends[step.pk]), default=-1)
        remaining = [step for step in remaining if step.pk not in depth]
    waves: list[list[PlanStep]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for step in steps:
        if step.pk in depth:
            waves[depth[step.pk]].append(step)
    return waves, remaining


def _depends_keys(step: PlanStep) -> str:
    return ", ".join(dep.key for dep in step.depends_on.all()) or "—"


def _timing(step: PlanStep, origin: datetime | None) -> str:
    start = elapsed_ms(origin, step.started_at)
    took = elapsed_ms(step.started_at, step.finished_at)
    if start is None:
        return "not started"
    return f"+{start} ms, took {took} ms" if took is not None else f"+{start} ms, unfinished"


def _step_item(step: PlanStep, origin: datetime | None):
    outcome = step.error or step.result
    return format_html(
        '<li class="plan-step status-{}"><strong>{}</strong> {} <span class="step-status">{}</span>'
        '<div class="step-meta">depends on: {} · {}</div><div class="step-result">{}</div></li>',
        step.status,
        step.key,
        step.title,
        step.get_status_display(),
        _depends_keys(step),
        _timing(step, origin),
        Truncator(outcome).chars(RESULT_CHARS) or "—",
    )


def plan_graph_html(steps: list[PlanStep], origin: datetime | None):
    """Render a plan as waves of steps, each with its dependencies, status, timings and result."""
    if not steps:
        return "—"
    waves, cyclic = plan_waves(steps)
    sections = [(f"Wave {number}", wave) for number, wave in enumerate(waves, start=1)]
    if cyclic:
        sections.append(("Unordered (dependency cycle)", cyclic))
    return format_html(
        '<div class="plan-graph">{}</div>',
        format_html_join(
            "",
            '<section class="plan-wave"><h4>{}</h4><ol class="plan-steps">{}</ol></section>',
            (
                (label, format_html_join("", "{}", ((_step_item(step, origin),) for step in members)))
                for label, members in sections
            ),
        ),
    )


def plan_steps_html(steps: list[PlanStep], origin: datetime | None):
    """Render a plan's steps in written order as a table."""
    if not steps:
        return "—"
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="step-result">{}</td></tr>',
        (
            (
                step.position,
                step.key,
                step.title,
                step.get_status_display(),
                _depends_keys(step),
                _timing(step, origin),
                step.error or step.result or "—",
            )
            for step in steps
        ),
    )
    return format_html(
        '<table class="plan-steps-table"><thead><tr><th>#</th><th>Key</th><th>Title</th><th>Status</th>'
        "<th>Depends on</th><th>Timing</th><th>Result</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def admin_link(obj: Any, text: Any = None):
    """Return a link to an object's admin page."""
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else obj)


# --- Read-only history --------------------------------------------------------


class HistoryAdmin(admin.ModelAdmin):
    """A model admin that shows the record and refuses to add, change or delete it."""

    cost = cost_column

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class HistoryInline(admin.TabularInline):
    """An inline that shows related history rows, never a form to edit them."""

    cost = cost_column

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# An agent's own LLM calls: assistant rows it stored for a call, which always name the model that
# answered. Assistant rows without a model are earlier turns of the chat copied into its conversation
# (history), not calls it made.
OWN_CALLS = Q(role=AgentMessage.Role.ASSISTANT) & ~Q(model="")


def _tokens_annotations() -> dict[str, Any]:
    """Return an agent's LLM call count, tokens and the model that answered its last call, in the same query."""
    own = Q(conversation__role=AgentMessage.Role.ASSISTANT) & ~Q(conversation__model="")
    last_model = AgentMessage.objects.filter(OWN_CALLS, agent=OuterRef("pk")).order_by("-id").values("model")[:1]
    return {
        "llm_call_count": Count("conversation", filter=own),
        "token_count": Coalesce(Sum(F("conversation__prompt_tokens") + F("conversation__completion_tokens")), 0),
        "answered_model": Subquery(last_model),
    }


class AgentStatsMixin:
    """Columns of an admin whose queryset carries ``_tokens_annotations()``."""

    @admin.display(description="LLM calls", ordering="llm_call_count")
    def llm_call_count(self, agent: Agent) -> int:
        return agent.llm_call_count

    @admin.display(description="Tokens", ordering="token_count")
    def token_count(self, agent: Agent) -> int:
        return agent.token_count

    @admin.display(description="Model (answered)", ordering="answered_model")
    def answered_by(self, agent: Agent) -> str:
        """The model the server says answered (AgentMessage.model); the configured name when it differs."""
        answered = agent.answered_model
        if not answered:
            return f"{agent.model} (no call yet)"
        return answered if answered == agent.model else f"{answered} (asked for {agent.model})"


# --- Runs ---------------------------------------------------------------------


class AgentInline(AgentStatsMixin, HistoryInline):
    model = Agent
    fk_name = "run"
    fields = readonly_fields = ("agent", "role", "answered_by", "permission", "parent", "llm_call_count", "token_count")
    # Explicit: Django drops Meta.ordering from aggregating queries.
    ordering = ("created_at", "id")

    # Annotated so the LLM calls and tokens of every agent come in the one query of the inline.
    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        return super().get_queryset(request).select_related("parent").annotate(**_tokens_annotations())

    @admin.display(description="Agent")
    def agent(self, agent: Agent):
        return admin_link(agent, str(agent.pk)[:8])


class ExecutionInline(HistoryInline):
    model = Execution
    fk_name = "run"
    fields = readonly_fields = (
        "agent",
        "step",
        "status",
        "total_tokens",
        "llm_calls",
        "cost",
        "duration",
        "result",
    )

    # The agent and step of each row are shown; load them with the rows, not one query per row.
    def get_queryset(self, request: HttpRequest) -> QuerySet[Execution]:
        return super().get_queryset(request).select_related("agent", "step")

    @admin.display(description="Duration (ms)")
    def duration(self, execution: Execution) -> int | None:
        return execution.duration_ms


class RunEventInline(HistoryInline):
    """The run's events in order; a stretch of consecutive ``text`` events is one row that unfolds to the text."""

    model = RunEvent
    fields = readonly_fields = ("seq", "type", "ts", "elapsed", "summary")
    ordering = ("seq",)
    verbose_name_plural = "event timeline"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made per request (the admin builds its inlines for each), so this cache lives one page.
        self._text_stretches: dict[Any, dict[int, list[RunEvent]]] = {}

    # Each row's elapsed time counts from its run's start: load the run with the rows. A text event
    # right after another text event is folded into the row of the first one of its stretch.
    def get_queryset(self, request: HttpRequest) -> QuerySet[RunEvent]:
        follows_text = RunEvent.objects.filter(run=OuterRef("run"), seq=OuterRef("seq") - 1, type="text")
        return super().get_queryset(request).select_related("run").exclude(Q(type="text") & Q(Exists(follows_text)))

    def stretch(self, event: RunEvent) -> list[RunEvent]:
        """Return the text events of the stretch that starts at ``event`` (its whole run's read once)."""
        if event.run_id not in self._text_stretches:
            stretches: dict[int, list[RunEvent]] = {}
            current: list[RunEvent] | None = None
            previous_seq = None
            for text in RunEvent.objects.filter(run_id=event.run_id, type="text").order_by("seq"):
                if current is None or text.seq != previous_seq + 1:
                    current = stretches.setdefault(text.seq, [])
                current.append(text)
                previous_seq = text.seq
            self._text_stretches[event.run_id] = stretches
        return self._text_stretches[event.run_id].get(event.seq, [event])

    @admin.display(description="ts")
    def ts(self, event: RunEvent) -> str:
        return event.data.get("ts", "") if isinstance(event.data, dict) else ""

    @admin.display(description="Elapsed (ms)")
    def elapsed(self, event: RunEvent) -> int | None:
        return elapsed_ms(run_origin(event.run), event.created_at)

    @admin.display(description="Data")
    def summary(self, event: RunEvent):
        if event.type != "text":
            return format_html(
                '<details class="event-data"><summary>{}</summary><pre>{}</pre></details>',
                event_summary(event.data) or "—",
                pretty_json(event.data),
            )
        texts = self.stretch(event)
        whole = "".join(str(t.data.get("delta", "")) if isinstance(t.data, dict) else "" for t in texts)
        label = f"{len(texts)} text events, seq {texts[0].seq} to {texts[-1].seq}" if len(texts) > 1 else "1 text event"
        return format_html(
            '<details class="event-data event-text"><summary>{}: “{}”</summary><pre>{}</pre></details>',
            label,
            Truncator(whole).chars(SUMMARY_CHARS // 2),
            whole,
        )


@admin.register(Run)
class RunAdmin(HistoryAdmin):
    list_display = (
        "short_id",
        "message",
        "user",
        "status",
        "route",
        "total_tokens",
        "llm_calls",
        "cost",
        "duration_seconds",
        "created_at",
    )
    list_filter = ("status", "route", "cost_known", "user", "created_at")
    list_select_related = ("user", "user_message")
    search_fields = ("user_message__content", "route_reason", "id", "user__username", "error_message")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    fieldsets = (
        (None, {"fields": ("id", "user", "session", "status", "route", "route_reason", "question", "answer")}),
        (
            "Usage",
            {
                "fields": (
                    "prompt_tokens",
                    "completion_tokens",
                    "total_tokens",
                    "llm_calls",
                    "cost",
                    "cost_known",
                    "duration",
                )
            },
        ),
        ("Timings", {"fields": ("created_at", "started_at", "finished_at", "trace_id")}),
        ("Ownership", {"fields": ("owner", "lease_until", "attempt", "resume_reason")}),
        ("Error", {"fields": ("error_code", "error_message", "error_detail", "cancel_requested")}),
        ("Plan", {"fields": ("plan_objective", "plan_versions", "plan_graph", "plan_steps")}),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])
    inlines = (AgentInline, ExecutionInline, RunEventInline)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list:
        # What the run waited for (agents/admin_approvals.py), before its events.
        from .admin_approvals import ApprovalInline

        return [AgentInline, ExecutionInline, ApprovalInline, RunEventInline]

    # Annotated so the computed duration column can be sorted in the database.
    def get_queryset(self, request: HttpRequest) -> QuerySet[Run]:
        duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        return super().get_queryset(request).annotate(run_duration=duration)

    # One more page: what each user spent (agents/admin_costs.py).
    def get_urls(self):
        from django.urls import path

        from .admin_costs import cost_summary_view

        view = self.admin_site.admin_view(lambda request: cost_summary_view(self, request))
        return [path("costs/", view, name="agents_run_costs"), *super().get_urls()]

    @admin.display(description="Run", ordering="id")
    def short_id(self, run: Run) -> str:
        return str(run.pk)[:8]

    @admin.display(description="Message", ordering="user_message__content")
    def message(self, run: Run) -> str:
        """The user's message this run answers (not its session's title: a session has many runs)."""
        return Truncator(" ".join(run.user_message.content.split())).chars(80)

    @admin.display(description="Duration (s)", ordering="run_duration")
    def duration_seconds(self, run: Run) -> str:
        return seconds(run.duration_ms)

    @admin.display(description="Duration")
    def duration(self, run: Run) -> str:
        ms = run.duration_ms
        return "— (not finished)" if ms is None else f"{seconds(ms)} s ({ms} ms)"

    @admin.display(description="User's message")
    def question(self, run: Run) -> str:
        return run.user_message.content

    @admin.display(description="Answer")
    def answer(self, run: Run) -> str:
        return run.assistant_message.content if run.assistant_message else "—"

    def _plan(self, run: Run) -> Plan | None:
        return run.plan

    @admin.display(description="Objective")
    def plan_objective(self, run: Run):
        plan = self._plan(run)
        return admin_link(plan, plan.objective) if plan else "— (no plan: not a complex run)"

    @admin.display(description="Plan versions")
    def plan_versions(self, run: Run):
        """Every version of the run's plan, oldest first, with why each revision was made."""
        versions = list(run.plans.order_by("version"))
        if not versions:
            return "—"
        return format_html_join(
            "",
            "<div>{} {}</div>",
            (
                (admin_link(plan, f"Version {plan.version}"), f"— {plan.revision_reason}" * bool(plan.revision_reason))
                for plan in versions
            ),
        )

    @admin.display(description="Plan graph")
    def plan_graph(self, run: Run):
        plan = self._plan(run)
        return plan_graph_html(load_plan_steps(plan), run_origin(run)) if plan else "—"

    @admin.display(description="Steps in order")
    def plan_steps(self, run: Run):
        plan = self._plan(run)
        return plan_steps_html(load_plan_steps(plan), run_origin(run)) if plan else "—"


# --- Agents and their conversations ------------------------------------------


class AgentMessageInline(HistoryInline):
    model = AgentMessage
    fk_name = "agent"
    fields = readonly_fields = (
        "role",
        "message_content",
        "tool_calls_summary",
        "tool_call_id",
        "tool_name",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "cost",
        "latency_ms",
        "model",
        "finish_reason",
    )
    ordering = ("id",)
    verbose_name_plural = "LLM conversation"

    # Wide, wrapped and kept as written (agents/admin.css), not squeezed into a narrow column.
    @admin.display(description="Content")
    def message_content(self, message: AgentMessage):
        if not message.content:
            return "—"
        shown = pretty_json(message.content) if message.role == AgentMessage.Role.TOOL else message.content
        return format_html('<div class="agent-content">{}</div>', shown)

    @admin.display(description="Tool calls")
    def tool_calls_summary(self, message: AgentMessage):
        calls = message.tool_calls or []
        if not calls:
            return "—"
        if not isinstance(calls, list):
            return format_html('<pre class="tool-calls">{}</pre>', pretty_json(calls))
        return format_html_join(
            "",
            '<div class="tool-call"><strong>{}</strong> <span class="tool-call-id">[{}]</span>'
            '<pre class="tool-calls">{}</pre></div>',
            (
                (call.get("name", "?"), call.get("id", ""), pretty_json(call.get("arguments", "")))
                if isinstance(call, dict)
                else ("?", "", str(call))
                for call in calls
            ),
        )


@admin.register(Agent)
class AgentAdmin(AgentStatsMixin, HistoryAdmin):
    list_display = (
        "short_id",
        "role",
        "answered_by",
        "permission",
        "run",
        "parent",
        "llm_call_count",
        "token_count",
        "created_at",
    )
    list_filter = ("role", "model")
    list_select_related = ("run", "parent")
    search_fields = ("=id", "model", "run__id")
    ordering = ("-created_at",)
    fields = readonly_fields = (
        "id",
        "run",
        "role",
        "model",
        "answered_by",
        "permission",
        "parent",
        "created_at",
        "llm_call_count",
        "token_count",
    )
    inlines = (AgentMessageInline,)

    # Annotated so the list shows each agent's LLM calls and tokens without a query per row.
    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        return super().get_queryset(request).annotate(**_tokens_annotations())

    @admin.display(description="Agent", ordering="id")
    def short_id(self, agent: Agent) -> str:
        return str(agent.pk)[:8]


# --- Plans, executions, events ------------------------------------------------


class PlanStepInline(HistoryInline):
    model = PlanStep
    fields = readonly_fields = (
        "position",
        "key",
        "title",
        "instructions",
        "status",
        "depends_on_keys",
        "started_at",
        "finished_at",
        "duration",
        "result",
        "error",
        "kept_from",
    )
    ordering = ("position",)

    # Each row names the steps it depends on: prefetch them for all rows at once.
    def get_queryset(self, request: HttpRequest) -> QuerySet[PlanStep]:
        return super().get_queryset(request).prefetch_related("depends_on").select_related("kept_from__plan")

    @admin.display(description="Depends on")
    def depends_on_keys(self, step: PlanStep) -> str:
        return _depends_keys(step)

    @admin.display(description="Duration (ms)")
    def duration(self, step: PlanStep) -> int | None:
        return elapsed_ms(step.started_at, step.finished_at)


@admin.register(Plan)
class PlanAdmin(HistoryAdmin):
    list_display = ("objective_short", "version", "run", "agent", "step_count", "created_at")
    list_filter = ("version", "revision_declined")
    list_select_related = ("run", "agent")
    search_fields = ("objective", "steps__title", "run__id")
    ordering = ("-created_at",)
    fields = readonly_fields = (
        "id",
        "run",
        "agent",
        "objective",
        "version",
        "previous",
        "revised_by",
        "revision_reason",
        "revision_declined",
        "created_at",
        "graph",
    )
    inlines = (PlanStepInline,)

    @admin.display(description="Revised by")
    def revised_by(self, plan: Plan):
        """The next version of this plan, when the planner revised it."""
        revision = Plan.objects.filter(previous=plan).first()
        return admin_link(revision, f"version {revision.version}") if revision else "—"

    # Annotated so the step count of every plan comes in the list's one query.
    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return super().get_queryset(request).annotate(step_count=Count("steps"))

    @admin.display(description="Objective", ordering="objective")
    def objective_short(self, plan: Plan) -> str:
        return Truncator(plan.objective).chars(80)

    @admin.display(description="Steps", ordering="step_count")
    def step_count(self, plan: Plan) -> int:
        return plan.step_count

    @admin.display(description="Plan graph")
    def graph(self, plan: Plan):
        return plan_graph_html(load_plan_steps(plan), run_origin(plan.run))


@admin.register(Execution)
class ExecutionAdmin(HistoryAdmin):
    list_display = (
        "short_id",
        "run",
        "step",
        "agent",
        "status",
        "total_tokens",
        "llm_calls",
        "cost",
        "duration",
        "started_at",
    )
    list_filter = ("status", "cost_known")
    list_select_related = ("run", "step", "agent")
    search_fields = ("task", "result", "step__title", "step__key", "run__id")
    ordering = ("-started_at",)
    fields = readonly_fields = (
        "id",
        "run",
        "step",
        "agent",
        "status",
        "task",
        "result",
        "error",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "llm_calls",
        "cost",
        "cost_known",
        "started_at",
        "finished_at",
        "duration",
    )

    @admin.display(description="Execution", ordering="id")
    def short_id(self, execution: Execution) -> str:
        return str(execution.pk)[:8]

    @admin.display(description="Duration (ms)")
    def duration(self, execution: Execution) -> int | None:
        return execution.duration_ms


@admin.register(RunEvent)
class RunEventAdmin(HistoryAdmin):
    list_display = ("run", "seq", "type", "summary", "created_at")
    list_filter = ("type",)
    list_select_related = ("run",)
    search_fields = ("type", "data", "run__id")
    ordering = ("-id",)
    fields = readonly_fields = ("run", "seq", "type", "created_at", "data")

    @admin.display(description="Data")
    def summary(self, event: RunEvent) -> str:
        return event_summary(event.data)


# --- Memories -----------------------------------------------------------------


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    list_display = ("content_short", "user", "created_at")
    list_filter = ("user",)
    list_select_related = ("user",)
    search_fields = ("content", "user__username")
    ordering = ("-created_at",)
    fields = readonly_fields = ("id", "user", "content", "created_at")

    # A memory is what the user asked the assistant to remember: an admin may not invent or reword it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # A superuser may remove one (a wrong or unwanted memory); nothing else hangs on it.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    @admin.display(description="Content", ordering="content")
    def content_short(self, memory: Memory) -> str:
        return Truncator(memory.content).chars(80)


# Approvals have a page of their own (registered on import).
from . import admin_approvals  # noqa: E402, F401
