"""The session history API (DRF, sync): list, read, rename, delete, messages.

Every query goes through the user-scoped selectors, so another user's id and
a malformed id both answer the contract's 404 (the routes take ``str`` ids
for that reason: a ``uuid`` converter would answer a malformed id with
Django's HTML 404 instead of the JSON shape).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_platform.schema import error_responses

from . import selectors, services
from .serializers import MessageSerializer, SessionSerializer, SessionUpdateSerializer

SESSION_ID = OpenApiParameter(
    "session_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The session's id (one of yours)."
)


SEARCH_MAX_CHARS = 200


@extend_schema(
    tags=["sessions"],
    parameters=[
        OpenApiParameter(
            "search",
            OpenApiTypes.STR,
            OpenApiParameter.QUERY,
            description=f"Only sessions whose title or a message contains this text (case-insensitive; "
            f"the first {SEARCH_MAX_CHARS} characters count).",
        )
    ],
    responses={200: SessionSerializer(many=True), **error_responses(401)},
)
class SessionListApi(generics.ListAPIView):
    """List your chat sessions, newest activity first; ``?search=`` narrows them."""

    serializer_class = SessionSerializer

    def get_queryset(self):
        search = " ".join(self.request.query_params.get("search", "").split())[:SEARCH_MAX_CHARS]
        return selectors.session_list(user=self.request.user, search=search)


@extend_schema(tags=["sessions"], parameters=[SESSION_ID])
class SessionDetailApi(APIView):
    """Read, rename or delete one of your chat sessions."""

    @extend_schema(responses={200: SessionSerializer, **error_responses(401, 404)})
    def get(self, request, session_id: str):
        session = selectors.session_get(user=request.user, session_id=session_id, with_usage=True)
        return Response(SessionSerializer(session).data)

    @extend_schema(
        request=SessionUpdateSerializer,
        responses={200: SessionSerializer, **error_responses(400, 401, 403, 404)},
        description="Change the title; any other field of the body is ignored. An empty title answers 400.",
    )
    def patch(self, request, session_id: str):
        session = selectors.session_get(user=request.user, session_id=session_id)
        update = SessionUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        if "title" in update.validated_data:
            services.session_rename(session=session, title=update.validated_data["title"])
        session = selectors.session_get(user=request.user, session_id=session.pk, with_usage=True)
        return Response(SessionSerializer(session).data)

    @extend_schema(
        responses={204: None, **error_responses(401, 403, 404)},
        description="Delete the session with its messages, runs, plans and events.",
    )
    def delete(self, request, session_id: str):
        session = selectors.session_get(user=request.user, session_id=session_id)
        services.session_delete(session=session)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["sessions"],
    parameters=[SESSION_ID],
    responses={200: MessageSerializer(many=True), **error_responses(401, 404)},
)
class SessionMessageListApi(generics.ListAPIView):
    """List a session's messages, oldest first."""

    serializer_class = MessageSerializer

    def get_queryset(self):
        session = selectors.session_get(user=self.request.user, session_id=self.kwargs["session_id"])
        return selectors.message_list(session=session)
