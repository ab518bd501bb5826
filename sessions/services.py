"""Writes to chat sessions and messages, shared by views, admin and the engine."""

import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from agents_platform.errors import InvalidInput, NotFound

from .models import ChatSession, Message
from .signals import session_delete_locking, session_deleting

TITLE_MAX_CHARS = 200


def _clean_title(title: str) -> str:
    return " ".join(title.split())[:TITLE_MAX_CHARS]


def session_create(
    *,
    user: AbstractBaseUser,
    title: str = "",
    context_type: str | None = None,
    entity_id: str | None = None,
    session_id: uuid.UUID | None = None,
) -> ChatSession:
    """Create a session for the user (with the given id, when one is given)."""
    return ChatSession.objects.create(
        **({"pk": session_id} if session_id is not None else {}),
        user=user,
        title=_clean_title(title),
        context_type=context_type or "general",
        entity_id=entity_id,
    )


def session_rename(*, session: ChatSession, title: str) -> ChatSession:
    """Retitle a session; the title is trimmed and must not be empty.

    Raises NotFound when the session was deleted since it was read (a rename
    racing a delete), where ``save(update_fields=...)`` raised a DatabaseError.
    """
    cleaned = _clean_title(title)
    if not cleaned:
        raise InvalidInput("The title must not be empty.", code="invalid_title", fields={"title": ["Required."]})
    updated_at = timezone.now()
    if not ChatSession.objects.filter(pk=session.pk).update(title=cleaned, updated_at=updated_at):
        raise NotFound("Session not found.", code="session_not_found")
    session.title, session.updated_at = cleaned, updated_at
    return session


DELETE_TRIES = 3


def session_delete(*, session: ChatSession) -> None:
    """Delete a session and everything that hangs on it (messages, runs, plans, events).

    Other apps may still be writing under the session (a run's agents). First
    ``session_deleting`` lets them stop (the engine cancels the session's runs
    and waits briefly); then, in the deleting transaction,
    ``session_delete_locking`` lets them lock what their inserts reference. A
    writer that still raced the cascade (PostgreSQL reports a deadlock or a
    foreign-key conflict) makes the delete try again, up to DELETE_TRIES times.
    """
    session_deleting.send(sender=ChatSession, session=session)
    for attempt in range(1, DELETE_TRIES + 1):
        try:
            with transaction.atomic():
                session_delete_locking.send(sender=ChatSession, session=session)
                session.delete()
            return
        except (IntegrityError, OperationalError):
            if attempt == DELETE_TRIES:
                raise
            time.sleep(0.1 * attempt)


def message_create(
    *,
    session: ChatSession,
    role: str,
    content: str,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    message_id: uuid.UUID | None = None,
    status: str = Message.Status.COMPLETE,
    cost_usd: Decimal = Decimal(0),
) -> Message:
    """Store a message and bump the session's last activity.

    ``status=Message.Status.INCOMPLETE`` marks an answer whose model stream
    broke before it finished: ``content`` is the part that arrived.
    """
    message = message_build(
        session=session,
        role=role,
        content=content,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        status=status,
        cost_usd=cost_usd,
    )
    if message_id is not None:
        message.id = message_id
    message.save(force_insert=True)
    fields = {"updated_at": timezone.now()}
    if not session.title and role == Message.Role.USER:
        session.title = _clean_title(content)[:80]
        fields["title"] = session.title
    ChatSession.objects.filter(pk=session.pk).update(**fields)
    return message


def message_build(
    *,
    session: ChatSession,
    role: str,
    content: str,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    status: str = Message.Status.COMPLETE,
    cost_usd: Decimal = Decimal(0),
) -> Message:
    """Return an unsaved message (its id known): ``session_record_answer`` stores it with the session's bump."""
    return Message(
        id=uuid.uuid4(),
        session=session,
        role=role,
        content=content,
        status=status,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        cost_usd=cost_usd,
    )


def session_record_answer(*, session: ChatSession, message: Message | None, cost_usd: Decimal) -> None:
    """Store a run's answer (if any, built by ``message_build``) and add the run's cost: one UPDATE of the session."""
    fields: dict = {}
    if message is not None:
        message.save(force_insert=True)
        fields["updated_at"] = timezone.now()
    if cost_usd:
        fields["cost_usd"] = F("cost_usd") + cost_usd
    if fields:
        ChatSession.objects.filter(pk=session.pk).update(**fields)


def messages_import(*, session: ChatSession, messages: list[tuple[str, str]]) -> list[Message]:
    """Store earlier turns (role, content) as the session's first messages, in order, before anything else.

    Each gets its own microsecond, all before the moment of the call, so a
    message stored after them (the new one) is later than every one, and the
    order survives equal clocks. Call it in the transaction that stores that message.
    """
    if not messages:
        return []
    stored = [message_create(session=session, role=role, content=content) for role, content in messages]
    start = timezone.now() - timedelta(microseconds=len(stored) + 1)
    Message.objects.filter(pk__in=[message.pk for message in stored]).update(
        created_at=Case(
            *[When(pk=message.pk, then=Value(start + timedelta(microseconds=n))) for n, message in enumerate(stored)]
        )
    )
    for n, message in enumerate(stored):
        message.created_at = start + timedelta(microseconds=n)
    return stored


def message_add_usage(*, message: Message, prompt_tokens: int, completion_tokens: int) -> None:
    """Add tokens to a message's counts without a read-modify-write race."""
    Message.objects.filter(pk=message.pk).update(
        prompt_tokens=F("prompt_tokens") + prompt_tokens,
        completion_tokens=F("completion_tokens") + completion_tokens,
        total_tokens=F("total_tokens") + prompt_tokens + completion_tokens,
    )


def session_add_cost(*, session_id: uuid.UUID | str, cost_usd: Decimal) -> None:
    """Add the dollars of one LLM call made for the session, atomically (the caller prices it)."""
    if cost_usd:
        ChatSession.objects.filter(pk=session_id).update(cost_usd=F("cost_usd") + cost_usd)
