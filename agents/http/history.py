"""``GET /api/sessions/<id>/runs/``: a session's runs, newest first.

It belongs to the session history API but lives here because it reads
``Run`` and the sessions app must not import the engine (agents → sessions).
Clients use it to find a session's active run and rejoin its stream, and to
join assistant messages to the run that wrote them.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers

from agents.llm.usage import Usage
from agents.models import Run
from agents.runs.selectors import run_list_for_session
from agents_platform.schema import DRF_NOT_AUTHENTICATED, error_responses
from sessions.selectors import session_get


class RunSummarySerializer(serializers.ModelSerializer):
    """A run as its owner sees it in a session's history."""

    duration_ms = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Start (or creation) to finish; null while active."
    )
    is_active = serializers.BooleanField(read_only=True, help_text="Queued or running: its stream can be joined.")
    user_message_id = serializers.UUIDField(read_only=True, help_text="The user's message this run answers.")
    assistant_message_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="The answer, once stored.")
    cost_usd = serializers.DecimalField(
        max_digits=20, decimal_places=10, coerce_to_string=False, read_only=True, help_text="US dollars."
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "status",
            "is_active",
            "route",
            "route_reason",
            "user_message_id",
            "assistant_message_id",
            "last_event_seq",
            *Usage.COUNTERS,
            "error_code",
            "error_message",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = fields


@extend_schema(
    tags=["sessions"],
    parameters=[
        OpenApiParameter("session_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The session's id.")
    ],
    responses={
        200: RunSummarySerializer(many=True),
        **error_responses(
            {400: ["invalid_page_size"], 401: DRF_NOT_AUTHENTICATED, 404: ["not_found", "session_not_found"]}
        ),
    },
)
class SessionRunListApi(generics.ListAPIView):
    """List a session's runs, newest first."""

    serializer_class = RunSummarySerializer

    def get_queryset(self):
        session = session_get(user=self.request.user, session_id=self.kwargs["session_id"])
        return run_list_for_session(session=session)
