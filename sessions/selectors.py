"""Reads of chat sessions and messages, always scoped to one user."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from agents_platform.errors import NotFound

from .models import ChatSession, Message


def session_list(*, user: AbstractBaseUser, search: str = "") -> QuerySet[ChatSession]:
    """Return the user's sessions, newest activity first, with message counts and token usage.

    ``search`` keeps the sessions whose title or any message contains it
    (case-insensitive); matched through a subquery, so the counts stay whole.
    """
    sessions = ChatSession.objects.filter(user=user)
    if search:
        matching = Message.objects.filter(session__user=user, content__icontains=search).values("session_id")
        sessions = sessions.filter(Q(title__icontains=search) | Q(pk__in=matching))
    return sessions.annotate(
        message_count=Count("messages"),
        total_tokens=Coalesce(Sum("messages__total_tokens"), 0),
    ).order_by("-updated_at", "-created_at")


def session_get(*, user: AbstractBaseUser, session_id: uuid.UUID | str, with_usage: bool = False) -> ChatSession:
    """Return the user's session, or raise NotFound (also for another user's id).

    ``with_usage`` annotates it like ``session_list``'s items, in the same one query.
    """
    sessions = session_list(user=user) if with_usage else ChatSession.objects.filter(user=user)
    try:
        return sessions.get(pk=session_id)
    except (ChatSession.DoesNotExist, ValidationError, ValueError, TypeError):
        # A malformed id is as unknown as another user's: the same 404.
        raise NotFound("Session not found.", code="session_not_found") from None


def message_list(*, session: ChatSession) -> QuerySet[Message]:
    """Return the session's messages, oldest first."""
    return session.messages.order_by("created_at", "id")


def message_history(*, session: ChatSession, before: Message | None = None, limit: int = 50) -> list[Message]:
    """Return the last messages of a session (before a message, if given), oldest first."""
    queryset = session.messages.all()
    if before is not None:
        queryset = queryset.filter(created_at__lt=before.created_at)
    recent = list(queryset.order_by("-created_at", "-id")[:limit])
    recent.reverse()
    return recent


def message_search(
    *, user: AbstractBaseUser, query: str, limit: int = 5, exclude_id: uuid.UUID | str | None = None
) -> list[Message]:
    """Return the user's messages across their sessions containing ``query`` (case-insensitive), newest first."""
    queryset = Message.objects.filter(session__user=user, content__icontains=query).select_related("session")
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    return list(queryset.order_by("-created_at", "-id")[:limit])


def session_exists(*, session_id: uuid.UUID | str) -> bool:
    """Return whether the session still exists (a feed ends when it is deleted)."""
    return ChatSession.objects.filter(pk=session_id).exists()


# The namespace of the session ids bound to other clients' chat and thread ids (uuid5 of user and id).
CLIENT_ID_NAMESPACE = uuid.UUID("6f0b7c8e-5a1d-4c39-9a57-0d3f7b1e2c44")
CLIENT_ID_MAX_CHARS = 200


def session_for_client_id(*, user: AbstractBaseUser, client_id: str) -> tuple[uuid.UUID | None, uuid.UUID]:
    """Return (the user's session a client's chat or thread id names, or None; the id a new one would get).

    The id names a session when it is one of the user's session ids, or when
    it was bound to one before: a chat or thread id the user had not used
    starts a session whose id is derived from the user and that id (uuid5),
    so the same id finds it again and another user's ids never collide.
    """
    try:
        own = uuid.UUID(client_id)
    except ValueError:
        own = None
    if own is not None and ChatSession.objects.filter(user=user, pk=own).exists():
        return own, own
    bound = uuid.uuid5(CLIENT_ID_NAMESPACE, f"{user.pk}:{client_id}")
    if ChatSession.objects.filter(user=user, pk=bound).exists():
        return bound, bound
    return None, bound
