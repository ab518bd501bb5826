"""The approvals API (DRF, sync): list a run's approvals, decide one.

Both look the run up through the user-scoped selector, then the approval
within that run: another user's ids, and malformed ones, answer 404.
A decision that leaves the run nothing to wait for resumes it on whichever
worker is free (``agents.runtime.approvals``).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.http.runs import RUN_ID, RUN_NOT_FOUND
from agents.models import Approval
from agents.runs import approvals, selectors
from agents.runs.approvals import REASON_MAX_CHARS
from agents.runtime import approvals as runtime_approvals
from agents_platform.schema import CSRF_FAILED, DRF_NOT_AUTHENTICATED, error_responses, error_schema

APPROVAL_ID = OpenApiParameter(
    "approval_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The approval's id (of that run)."
)


class ApprovalSerializer(serializers.ModelSerializer):
    """An approval as its run's owner sees it."""

    run_id = serializers.UUIDField(read_only=True)
    agent_id = serializers.UUIDField(read_only=True, help_text="The agent whose call waits.")
    tool = serializers.CharField(read_only=True, allow_null=True, help_text="Kind tool: the tool's name.")
    arguments = serializers.JSONField(read_only=True, allow_null=True, help_text="As the model sent them.")
    plan = serializers.JSONField(read_only=True, allow_null=True, help_text="Kind plan: the plan as in plan_created.")
    decision = serializers.ChoiceField(
        choices=["approved", "rejected", "expired"], read_only=True, allow_null=True, help_text="Null while pending."
    )
    decided_arguments = serializers.JSONField(
        read_only=True, allow_null=True, help_text="The edited arguments (or plan) approved; null: as proposed."
    )
    decided_by = serializers.SerializerMethodField(help_text="Username of who decided; null for expired.")

    class Meta:
        model = Approval
        fields = [
            "id",
            "run_id",
            "kind",
            "status",
            "tool",
            "arguments",
            "plan",
            "agent_id",
            "decision",
            "decided_arguments",
            "reason",
            "decided_by",
            "decided_at",
            "expires_at",
            "created_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Approval) -> dict:
        data = super().to_representation(instance)
        data["tool"] = instance.tool or None
        return data

    def get_decided_by(self, approval: Approval) -> str | None:
        return approval.decided_by.get_username() if approval.decided_by_id else None


class DecisionSerializer(serializers.Serializer):
    """The body of a decision (documentation; the service validates it and answers the contract's errors)."""

    decision = serializers.ChoiceField(choices=["approve", "reject"])
    arguments = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="Approve only: edited arguments (kind tool, validated like the model's) or "
        "`{objective?, steps}` (kind plan, validated like the planner's plan).",
    )
    reason = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=REASON_MAX_CHARS, help_text="Why; no NUL."
    )


APPROVAL_NOT_FOUND = ["run_not_found", "approval_not_found"]


@extend_schema(
    tags=["agent"],
    parameters=[RUN_ID],
    responses={
        200: ApprovalSerializer(many=True),
        **error_responses({401: DRF_NOT_AUTHENTICATED, 404: RUN_NOT_FOUND}),
    },
)
class ApprovalListApi(APIView):
    """The approvals of one of your runs, pending first."""

    def get(self, request, run_id: str):
        run = selectors.run_get(user=request.user, run_id=run_id)
        return Response(ApprovalSerializer(approvals.approval_list(run=run), many=True).data)


@extend_schema(
    tags=["agent"],
    parameters=[RUN_ID, APPROVAL_ID],
    request=DecisionSerializer,
    responses={
        200: ApprovalSerializer,
        **error_responses(
            {
                400: ["invalid_body", "invalid_decision", "invalid_arguments", "invalid_plan", "invalid_reason"],
                401: DRF_NOT_AUTHENTICATED,
                403: CSRF_FAILED,
                404: APPROVAL_NOT_FOUND,
            }
        ),
        409: OpenApiResponse(
            error_schema(["approval_decided"]),
            description="The approval was already decided or has expired. Codes: `approval_decided`.",
        ),
    },
    description="Approve (optionally with edited `arguments`) or reject one approval of your run. When the run "
    "waits for nothing else, it resumes (`resumed` `approval` on its stream). 409 `approval_decided` when the "
    "approval was already decided or has expired.",
)
class ApprovalDecideApi(APIView):
    """Decide one approval of one of your runs."""

    def post(self, request, run_id: str, approval_id: str):
        approval = runtime_approvals.approval_decide(
            user=request.user, run_id=run_id, approval_id=approval_id, body=request.data
        )
        return Response(ApprovalSerializer(approval).data)
