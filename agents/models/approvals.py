"""Approvals: decisions a run waits for (a write tool call, a plan to review)."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from agents.models.agents import Agent
from agents.models.runs import Run


class ApprovalKind(models.TextChoices):
    TOOL = "tool", "Tool call"
    PLAN = "plan", "Plan"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired (counts as rejected)"


class Approval(models.Model):
    """A decision the run waits for: a write tool call of the planner, or (plan review) the plan."""

    Kind = ApprovalKind

    Status = ApprovalStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="approvals")
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="approvals", help_text="The agent whose call waits."
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    call_id = models.CharField(
        max_length=128, help_text="The model's tool call id (create_plan's for a plan): the call runs once by it."
    )
    tool = models.CharField(max_length=128, blank=True, default="", help_text="The tool's name (kind tool).")
    arguments = models.JSONField(
        encoder=DjangoJSONEncoder, null=True, blank=True, help_text="The arguments as the model sent them."
    )
    plan = models.JSONField(
        encoder=DjangoJSONEncoder, null=True, blank=True, help_text="The plan as in plan_created (kind plan)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_arguments = models.JSONField(
        encoder=DjangoJSONEncoder,
        null=True,
        blank=True,
        help_text="The arguments (or plan steps) the user approved, when edited; null: as proposed.",
    )
    reason = models.TextField(blank=True, default="", help_text="Why, as the user (or the platform) said it.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agent_approvals",
        help_text="Who decided; empty when it expired or the run was cancelled.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="After this, the approval is expired and counts as rejected.")
    result = models.JSONField(
        encoder=DjangoJSONEncoder,
        null=True,
        blank=True,
        help_text="The approved call's outcome, stored in the transaction that ran it (so it runs once).",
    )
    executed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the approved call ran (or the edited plan was announced)."
    )
    announced = models.BooleanField(
        default=False,
        help_text="Its approval_result was emitted: by the decision itself when nobody held the run, "
        "else by the run's owner (the only one who numbers its events).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "expires_at"], name="approval_status_expires")]
        constraints = [
            models.UniqueConstraint(fields=["run", "call_id"], name="approval_unique_call"),
            models.CheckConstraint(condition=Q(kind__in=ApprovalKind.values), name="approval_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=ApprovalStatus.values), name="approval_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.tool or 'plan'} ({self.status})"

    @property
    def decision(self) -> str | None:
        """Return the decision as events name it (approved, rejected, expired), or None while pending."""
        return None if self.status == self.Status.PENDING else self.status
