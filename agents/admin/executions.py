"""The executions of plan steps: which agent worked on which step, with what outcome, tokens and cost."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.models import Execution

from .history import HistoryAdmin, HistoryInline


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
