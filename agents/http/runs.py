"""The runs API (DRF, sync): read a run, cancel a run.

Both look the run up through the user-scoped selector, so another user's id
and a malformed one answer the contract's 404 (the routes take ``str`` ids
for that reason, as the session routes do).
"""

from django.db.models import Prefetch, prefetch_related_objects
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.http.serializers import RunDetailSerializer
from agents.models import Execution
from agents.runs import selectors, services
from agents_platform.schema import CSRF_FAILED, DRF_NOT_AUTHENTICATED, error_responses

RUN_ID = OpenApiParameter(
    "run_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The run's id (one of yours)."
)

CancelResponseSerializer = inline_serializer(
    "RunCancelResponse",
    {
        "run_id": serializers.UUIDField(),
        "status": serializers.CharField(help_text="The run's status now: still active, or its final status."),
    },
)


RUN_NOT_FOUND = ["run_not_found"]


@extend_schema(
    tags=["agent"],
    parameters=[RUN_ID],
    responses={200: RunDetailSerializer, **error_responses({401: DRF_NOT_AUTHENTICATED, 404: RUN_NOT_FOUND})},
)
class RunDetailApi(APIView):
    """Read one of your runs: status, route, usage, timings, plan with steps, executions."""

    def get(self, request, run_id: str):
        run = selectors.run_get(user=request.user, run_id=run_id)
        # Five queries whatever the plan's size: run, plan, steps, their dependencies, executions.
        prefetch_related_objects(
            [run],
            "plans",
            Prefetch("plans__steps", queryset=selectors.plan_steps_in_order()),
            Prefetch("executions", queryset=Execution.objects.order_by("started_at")),
        )
        return Response(RunDetailSerializer(run).data)


@extend_schema(
    tags=["agent"],
    parameters=[RUN_ID],
    request=None,
    responses={
        202: CancelResponseSerializer,
        **error_responses({401: DRF_NOT_AUTHENTICATED, 403: CSRF_FAILED, 404: RUN_NOT_FOUND}),
    },
    description="Ask the run to stop; idempotent. A finished run answers 202 with its final status. "
    "The run's stream ends with `done` `cancelled` once the agents have stopped.",
)
class RunCancelApi(APIView):
    """Ask one of your runs to stop."""

    def post(self, request, run_id: str):
        run = selectors.run_get(user=request.user, run_id=run_id)
        run = services.run_cancel(run=run)
        return Response({"run_id": str(run.pk), "status": run.status}, status=status.HTTP_202_ACCEPTED)
