"""The memories users asked the assistant to keep: read-only, but a superuser may remove one."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import Truncator

from agents.models import Memory
from agents_platform.admin import ViewOnlyMixin


# A memory is what the user asked the assistant to remember: an admin may not invent or reword it.
@admin.register(Memory)
class MemoryAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("content_short", "user", "created_at")
    list_filter = ("user",)
    list_select_related = ("user",)
    search_fields = ("content", "user__username")
    ordering = ("-created_at",)
    fields = readonly_fields = ("id", "user", "content", "created_at")

    # A superuser may remove one (a wrong or unwanted memory); nothing else hangs on it.
    def has_delete_permission(self, request: HttpRequest, obj: Memory | None = None) -> bool:
        return request.user.is_superuser

    @admin.display(description="Content", ordering="content")
    def content_short(self, memory: Memory) -> str:
        return Truncator(memory.content).chars(80)
