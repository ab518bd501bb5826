"""The runs: each user message being answered, with its usage, timings, plan, agents, approvals and events."""

from django.contrib import admin
from django.db.models import DurationField, ExpressionWrapper, F, QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, path
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from agents.models import Plan, PlanStep, Run
from agents.runs import selectors

from .agents import AgentInline
from .approvals import ApprovalInline
from .costs import cost_summary_view
from .executions import ExecutionInline
from .history import HistoryAdmin
from .rendering import admin_link, plan_graph_html, plan_steps_html, plan_versions_html, run_origin, seconds
from .timeline import RunEventInline


def _plan_steps(plan: Plan) -> list[PlanStep]:
    return list(selectors.plan_steps_in_order().filter(plan=plan))


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
    # What the run waited for (its approvals) comes before its events.
    inlines = (AgentInline, ExecutionInline, ApprovalInline, RunEventInline)

    # Annotated so the computed duration column can be sorted in the database.
    def get_queryset(self, request: HttpRequest) -> QuerySet[Run]:
        duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        return super().get_queryset(request).annotate(run_duration=duration)

    # One more page: what each user spent (agents/admin/costs.py).
    def get_urls(self) -> list[URLPattern]:
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

    @admin.display(description="Objective")
    def plan_objective(self, run: Run) -> SafeString | str:
        plan = run.plan
        return admin_link(plan, plan.objective) if plan else "— (no plan: not a complex run)"

    @admin.display(description="Plan versions")
    def plan_versions(self, run: Run) -> SafeString | str:
        """Every version of the run's plan, oldest first, with why each revision was made."""
        return plan_versions_html(list(run.plans.order_by("version")))

    @admin.display(description="Plan graph")
    def plan_graph(self, run: Run) -> SafeString | str:
        plan = run.plan
        return plan_graph_html(_plan_steps(plan), run_origin(run)) if plan else "—"

    @admin.display(description="Steps in order")
    def plan_steps(self, run: Run) -> SafeString | str:
        plan = run.plan
        return plan_steps_html(_plan_steps(plan), run_origin(run)) if plan else "—"
