"""The agents of runs and their LLM conversations: who was asked what, which model answered, at what cost."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.safestring import SafeString

from agents.models import Agent, AgentMessage

from .history import HistoryAdmin, HistoryInline
from .rendering import admin_link, message_content_html, tool_calls_html

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
    def agent(self, agent: Agent) -> SafeString:
        return admin_link(agent, str(agent.pk)[:8])


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
    def message_content(self, message: AgentMessage) -> SafeString | str:
        return message_content_html(message)

    @admin.display(description="Tool calls")
    def tool_calls_summary(self, message: AgentMessage) -> SafeString | str:
        return tool_calls_html(message.tool_calls)


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
