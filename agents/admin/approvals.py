"""The admin's view of approvals: what runs waited for, who decided, and what ran (read-only history)."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.models import Approval

from .history import HistoryAdmin, HistoryInline


@admin.register(Approval)
class ApprovalAdmin(HistoryAdmin):
    list_display = ("id", "run", "kind", "tool", "status", "decided_by", "decided_at", "expires_at", "created_at")
    list_filter = ("kind", "status", "tool", "created_at")
    list_select_related = ("run", "decided_by")
    search_fields = ("id", "run__id", "tool", "call_id", "reason", "decided_by__username")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    fields = readonly_fields = (
        "id",
        "run",
        "agent",
        "kind",
        "call_id",
        "tool",
        "arguments",
        "plan",
        "status",
        "decided_arguments",
        "reason",
        "decided_by",
        "decided_at",
        "expires_at",
        "result",
        "executed_at",
        "created_at",
    )


class ApprovalInline(HistoryInline):
    model = Approval
    fk_name = "run"
    fields = readonly_fields = ("kind", "tool", "status", "decided_by", "decided_at", "reason", "executed_at")

    # Who decided is shown on each row; load it with the rows.
    def get_queryset(self, request: HttpRequest) -> QuerySet[Approval]:
        return super().get_queryset(request).select_related("decided_by")
