"""The admin of chat sessions: who talked about what, with how many messages and tokens.

Messages are history and read-only. A superuser may delete a whole session
(a user's request to forget a conversation); it cascades to everything the
engine stored for it. This app knows nothing of the engine (DESIGN.md).
"""

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from .models import ChatSession, Message


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = readonly_fields = ("role", "content", "prompt_tokens", "completion_tokens", "total_tokens", "created_at")
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "user", "context_type", "message_count", "token_total", "updated_at")
    list_filter = ("context_type", "user", "updated_at")
    list_select_related = ("user",)
    search_fields = ("title", "user__username")
    date_hierarchy = "updated_at"
    ordering = ("-updated_at",)
    fields = readonly_fields = (
        "id",
        "user",
        "title",
        "context_type",
        "entity_id",
        "created_at",
        "updated_at",
        "message_count",
        "token_total",
    )
    inlines = (MessageInline,)

    # Annotated so the list shows every session's message count and tokens in its one query.
    def get_queryset(self, request: HttpRequest) -> QuerySet[ChatSession]:
        return (
            super()
            .get_queryset(request)
            .annotate(message_count=Count("messages"), token_total=Coalesce(Sum("messages__total_tokens"), 0))
        )

    # Sessions are created and titled by their user through the app, never by an admin.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # Deleting cascades to the session's whole history, so only a superuser may.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    # The history admins refuse deleting rows one by one; with their session they go, so they need no permission.
    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        deleted, model_count, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected

    @admin.display(description="Messages", ordering="message_count")
    def message_count(self, session: ChatSession) -> int:
        return session.message_count

    @admin.display(description="Tokens", ordering="token_total")
    def token_total(self, session: ChatSession) -> int:
        return session.token_total
