"""The agents of a run (planner, executors) and their stored LLM conversations."""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from agents.models.fields import cost_field, cost_known_field
from agents.models.runs import Run


class AgentRole(models.TextChoices):
    PLANNER = "planner", "Planner"
    EXECUTOR = "executor", "Executor"


class AgentPermission(models.TextChoices):
    READ_WRITE = "read_write", "Read and write"
    READ_ONLY = "read_only", "Read only"


class Agent(models.Model):
    """A planner or executor instance working for one run."""

    Role = AgentRole

    Permission = AgentPermission

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="agents")
    role = models.CharField(max_length=16, choices=Role.choices)
    model = models.CharField(max_length=200, help_text="Model name every call of this agent uses.")
    permission = models.CharField(max_length=16, choices=Permission.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children", help_text="Spawning agent."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # Executors are read-only by construction, not only by convention.
            models.CheckConstraint(
                condition=~Q(role=AgentRole.EXECUTOR) | Q(permission=AgentPermission.READ_ONLY),
                name="agent_executor_read_only",
            ),
            models.CheckConstraint(condition=Q(role__in=AgentRole.values), name="agent_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.id}"


class AgentMessageRole(models.TextChoices):
    SYSTEM = "system", "System"
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"
    TOOL = "tool", "Tool"


class AgentMessage(models.Model):
    """One message of an agent's own LLM conversation.

    Assistant rows are LLM calls: they carry the call's tokens, latency and
    model. Tool rows carry a tool's result for the call id they answer.
    """

    Role = AgentMessageRole

    id = models.BigAutoField(primary_key=True)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="conversation")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="agent_messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True, default="")
    tool_calls = models.JSONField(
        encoder=DjangoJSONEncoder,
        null=True,
        blank=True,
        help_text="Tool calls the model made: [{id, name, arguments}].",
    )
    tool_call_id = models.CharField(max_length=128, blank=True, default="", help_text="Call a tool row answers.")
    tool_name = models.CharField(max_length=128, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(
        default=0, help_text="Of the prompt tokens, those the provider served from its prompt cache."
    )
    cost_usd = cost_field("US dollars of this LLM call, from its usage and the model's price.")
    cost_known = cost_known_field()
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Wall time of the LLM call.")
    finish_reason = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["agent", "id"], name="agentmessage_agent")]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=AgentMessageRole.values), name="agentmessage_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"
