"""Reads of the engine's models, always scoped to one user where a user asks."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from agents.exceptions import RunNotFound
from agents.models import Memory, Run, RunEvent
from sessions.models import ChatSession


def run_get(*, user: AbstractBaseUser, run_id: uuid.UUID | str) -> Run:
    """Return the user's run, or raise RunNotFound (also for another user's id or a malformed one)."""
    try:
        return Run.objects.select_related("session").get(pk=run_id, user=user)
    except (Run.DoesNotExist, ValidationError, ValueError, TypeError):
        raise RunNotFound() from None


def run_list_for_session(*, session: ChatSession) -> QuerySet[Run]:
    """Return a session's runs, newest first."""
    return Run.objects.filter(session=session).order_by("-created_at")


def run_events_after(*, run_id: uuid.UUID | str, after_seq: int, limit: int = 500) -> list[RunEvent]:
    """Return up to ``limit`` stored events of a run with seq greater than ``after_seq``, in order."""
    return list(RunEvent.objects.filter(run_id=run_id, seq__gt=after_seq).order_by("seq")[:limit])


def memory_list(*, user: AbstractBaseUser, query: str | None = None, limit: int = 20) -> list[Memory]:
    """Return the user's memories, newest first, optionally those containing ``query``."""
    queryset = Memory.objects.filter(user=user)
    if query:
        queryset = queryset.filter(content__icontains=query)
    return list(queryset.order_by("-created_at")[:limit])
