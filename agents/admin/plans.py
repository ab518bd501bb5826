"""The plans of complex runs: every version, its steps as a graph of waves and in written order."""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from agents.models import Plan, PlanStep
from agents.runs import selectors

from .history import HistoryAdmin, HistoryInline
from .rendering import admin_link, depends_keys, elapsed_ms, plan_graph_html, run_origin


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
        return depends_keys(step)

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

    # Annotated so the step count of every plan comes in the list's one query.
    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return super().get_queryset(request).annotate(step_count=Count("steps"))

    @admin.display(description="Revised by")
    def revised_by(self, plan: Plan) -> SafeString | str:
        """The next version of this plan, when the planner revised it."""
        revision = Plan.objects.filter(previous=plan).first()
        return admin_link(revision, f"version {revision.version}") if revision else "—"

    @admin.display(description="Objective", ordering="objective")
    def objective_short(self, plan: Plan) -> str:
        return Truncator(plan.objective).chars(80)

    @admin.display(description="Steps", ordering="step_count")
    def step_count(self, plan: Plan) -> int:
        return plan.step_count

    @admin.display(description="Plan graph")
    def graph(self, plan: Plan) -> SafeString | str:
        return plan_graph_html(list(selectors.plan_steps_in_order().filter(plan=plan)), run_origin(plan.run))
