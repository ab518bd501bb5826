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

from agents_platform.errors import InvalidInput
from agents_platform.parsers import SafeJSONParser
from agents_platform.schema import CSRF_FAILED, DRF_NOT_AUTHENTICATED, error_responses

from . import selectors, services
from .serializers import MessageSerializer, SessionSerializer, SessionUpdateSerializer

SESSION_ID = OpenApiParameter(
    "session_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The session's id (one of yours)."
)
# What every paginated list answers besides 200: a bad page_size, and (like DRF) 404 for a bad page.
LIST_ERRORS = {400: ["invalid_page_size"], 401: DRF_NOT_AUTHENTICATED, 404: ["not_found"]}
SESSION_NOT_FOUND = ["session_not_found"]


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
    responses={200: SessionSerializer(many=True), **error_responses(LIST_ERRORS)},
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

    # JSON only: a form or multipart body cannot say "not an object", so any garbage parsed as an empty form.
    parser_classes = [SafeJSONParser]

    @extend_schema(
        responses={200: SessionSerializer, **error_responses({401: DRF_NOT_AUTHENTICATED, 404: SESSION_NOT_FOUND})}
    )
    def get(self, request, session_id: str):
        session = selectors.session_get(user=request.user, session_id=session_id, with_usage=True)
        return Response(SessionSerializer(session).data)

    @extend_schema(
        request=SessionUpdateSerializer,
        responses={
            200: SessionSerializer,
            **error_responses(
                {
                    400: ["invalid", "invalid_body", "invalid_title", "parse_error"],
                    401: DRF_NOT_AUTHENTICATED,
                    403: CSRF_FAILED,
                    404: SESSION_NOT_FOUND,
                    415: ["unsupported_media_type"],
                }
            ),
        },
        description="Change the title; any other field of the body is ignored. A blank title answers 400.",
    )
    def patch(self, request, session_id: str):
        session = selectors.session_get(user=request.user, session_id=session_id)
        if not isinstance(request.data, dict):
            raise InvalidInput("The body must be a JSON object.", code="invalid_body")
        update = SessionUpdateSerializer(data=request.data)
        update.is_valid(raise_exception=True)
        if "title" in update.validated_data:
            services.session_rename(session=session, title=update.validated_data["title"])
        session = selectors.session_get(user=request.user, session_id=session.pk, with_usage=True)
        return Response(SessionSerializer(session).data)

    @extend_schema(
        responses={
            204: None,
            **error_responses({401: DRF_NOT_AUTHENTICATED, 403: CSRF_FAILED, 404: SESSION_NOT_FOUND}),
        },
        description="Delete the session with its messages, runs, plans and events.",
    )
    def delete(self, request, session_id: str):
        session = selectors.session_get(user=request.user, session_id=session_id)
        services.session_delete(session=session)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["sessions"],
    parameters=[SESSION_ID],
    responses={
        200: MessageSerializer(many=True),
        **error_responses({**LIST_ERRORS, 404: ["not_found", *SESSION_NOT_FOUND]}),
    },
)
class SessionMessageListApi(generics.ListAPIView):
    """List a session's messages, oldest first."""

    serializer_class = MessageSerializer

    def get_queryset(self):
        session = selectors.session_get(user=self.request.user, session_id=self.kwargs["session_id"])
        return selectors.message_list(session=session)
