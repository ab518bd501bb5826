"""The admin of chat sessions: who talked about what, with how many messages and tokens.

Messages are history and read-only. A superuser may delete a whole session
(a user's request to forget a conversation); it cascades to everything the
engine stored for it. This app knows nothing of the engine (docs/architecture.md).
"""

from django.contrib import admin
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from agents_platform.admin import CascadeHistoryMixin, ReadOnlyMixin, ViewOnlyMixin

from .models import ChatSession, Message


class MessageInline(ReadOnlyMixin, admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "role",
        "content",
        "status",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "created_at",
    )
    ordering = ("created_at", "id")


# Sessions are created and titled by their user through the app, never by an admin; deleting one
# takes its history along.
@admin.register(ChatSession)
class ChatSessionAdmin(CascadeHistoryMixin, ViewOnlyMixin, admin.ModelAdmin):
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

    @admin.display(description="Messages", ordering="message_count")
    def message_count(self, session: ChatSession) -> int:
        return session.message_count

    @admin.display(description="Tokens", ordering="token_total")
    def token_total(self, session: ChatSession) -> int:
        return session.token_total
