"""The bases of the history admins: rows shown as stored, never added, changed or deleted here."""

from typing import Any

from django.contrib import admin

from agents_platform.admin import ReadOnlyMixin

from .rendering import usd


@admin.display(description="Cost", ordering="cost_usd")
def cost_column(self: Any, obj: Any) -> str:
    """The row's ``cost_usd`` in dollars (the stored value has twelve decimal places)."""
    return usd(obj.cost_usd)


class HistoryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """A model admin that shows the record and refuses to add, change or delete it."""

    cost = cost_column


class HistoryInline(ReadOnlyMixin, admin.TabularInline):
    """An inline that shows related history rows, never a form to edit them."""

    cost = cost_column

    extra = 0
    can_delete = False
