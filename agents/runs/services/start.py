"""Store a user's message and the queued run that answers it: validation, idempotency, busy sessions."""

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.exceptions import ActiveRunExists, IdempotencyMismatch, InvalidInput
from agents.models import Run
from agents.runs import queue, selectors
from agents.runs.services.ending import run_cancel
from agents.runs.services.ownership import lease_end
from sessions import selectors as session_selectors
from sessions import services as session_services
from sessions.models import ChatSession, Message

IDEMPOTENCY_WINDOW = timedelta(hours=24)
CONTEXT_TYPE_MAX_CHARS = 64
ENTITY_ID_MAX_CHARS = 255
IDEMPOTENCY_KEY_MAX_CHARS = 255


def request_fingerprint(payload: dict[str, Any]) -> str:
    """Return the SHA-256 of a request body's meaningful fields, for Idempotency-Key checks."""
    meaningful = {key: payload.get(key) for key in ("message", "session_id", "context_type", "entity_id")}
    # Only when given: a body without them keeps the fingerprint it always had.
    for key, default in (("multitask", queue.REJECT), ("conversation_history", None)):
        if payload.get(key) not in (None, default):
            meaningful[key] = payload[key]
    return hashlib.sha256(json.dumps(meaningful, sort_keys=True, default=str).encode()).hexdigest()


def _idempotent_run(*, user: AbstractBaseUser, key: str, fingerprint: str) -> Run | None:
    """Return the run an Idempotency-Key already started, releasing keys older than the window."""
    existing = Run.objects.filter(user=user, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.created_at < timezone.now() - IDEMPOTENCY_WINDOW:
        Run.objects.filter(pk=existing.pk).update(idempotency_key=None)
        return None
    if existing.request_hash != fingerprint:
        raise IdempotencyMismatch()
    return existing


def run_create(
    *,
    user: AbstractBaseUser,
    message: str,
    session_id: uuid.UUID | None = None,
    context_type: str | None = None,
    entity_id: str | None = None,
    idempotency_key: str | None = None,
    reserved_tokens: int = 0,
    multitask: str = queue.REJECT,
    conversation_history: list[tuple[str, str]] | None = None,
    review_plan: bool = False,
    run_id: uuid.UUID | None = None,
    new_session_id: uuid.UUID | None = None,
) -> tuple[Run, bool]:
    """Store the user's message and a queued run for it, in one transaction.

    Returns ``(run, created)``; ``created`` is False when the Idempotency-Key
    joined an earlier run. Raises NotFound for a session that is not the
    user's, ActiveRunExists when the session is busy and ``multitask`` is
    ``reject``, IdempotencyMismatch when the key was used with another body,
    InvalidInput for ``conversation_history`` on an existing session.

    On a busy session, ``enqueue`` puts the run on hold behind the session's
    active runs; ``interrupt`` cancels them all, then puts it on hold: it
    starts when the run that is stopping has ended. A new session imports
    ``conversation_history`` as its first messages, before this one.

    Other protocols' clients name ids: ``run_id`` is the run's id when no
    run has it yet (else a new one is made), ``new_session_id`` the id of the
    new session (when ``session_id`` is None).
    """
    if idempotency_key is not None and (
        not idempotency_key.strip() or len(idempotency_key) > IDEMPOTENCY_KEY_MAX_CHARS
    ):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 255 characters.",
            code="invalid_idempotency_key",
            fields={"Idempotency-Key": ["Must be 1 to 255 characters."]},
        )
    fingerprint = request_fingerprint(
        {
            "message": message,
            "session_id": session_id,
            "context_type": context_type,
            "entity_id": entity_id,
            "multitask": multitask,
            "conversation_history": [list(turn) for turn in conversation_history] if conversation_history else None,
        }
    )
    on_hold = False
    try:
        with transaction.atomic():
            if idempotency_key:
                existing = _idempotent_run(user=user, key=idempotency_key, fingerprint=fingerprint)
                if existing is not None:
                    return existing, False
            if session_id is not None:
                session = session_selectors.session_get(user=user, session_id=session_id)
                if conversation_history is not None:
                    problem = "Only a new session (no session_id) may import a conversation history."
                    raise InvalidInput(
                        problem, code="invalid_conversation_history", fields={"conversation_history": [problem]}
                    )
                # Lock the session row so two requests cannot both find it idle (queue.session_promote_next too).
                queue.session_lock(session_id=session.pk)
                on_hold = _make_way(session=session, multitask=multitask)
            else:
                session = session_services.session_create(
                    user=user, context_type=context_type, entity_id=entity_id, session_id=new_session_id
                )
                session_services.messages_import(session=session, messages=conversation_history or [])
            user_message = session_services.message_create(session=session, role=Message.Role.USER, content=message)
            if run_id is not None and Run.objects.filter(pk=run_id).exists():
                run_id = None  # taken: the client's id is only used when it is fresh
            run = Run.objects.create(
                **({"pk": run_id} if run_id is not None else {}),
                session=session,
                user=user,
                user_message=user_message,
                idempotency_key=idempotency_key or None,
                request_hash=fingerprint if idempotency_key else "",
                reserved_tokens=reserved_tokens,
                review_plan=review_plan,
                lease_until=lease_end(),
                on_hold=on_hold,
            )
            if on_hold:
                held_session = session.pk
                transaction.on_commit(lambda: queue.mark_waiting(session_id=held_session, lease_until=lease_end()))
    except IntegrityError:
        # Lost a race: another request took the key or the session at the same time.
        if idempotency_key:
            existing = _idempotent_run(user=user, key=idempotency_key, fingerprint=fingerprint)
            if existing is not None:
                return existing, False
        if (session_id or new_session_id) is not None:
            raced = session_id or new_session_id
            active = Run.objects.filter(session_id=raced, status__in=Run.ACTIVE_STATUSES).first()
            if active is not None:
                raise ActiveRunExists(extra={"run_id": str(active.pk)}) from None
        raise
    return run, True


def _make_way(*, session: ChatSession, multitask: str) -> bool:
    """Apply the busy-session strategy (the session row is locked); return whether the new run waits on hold."""
    active = selectors.session_runs_active(session_id=session.pk)
    if not active:
        return False
    if multitask == queue.ENQUEUE:
        return True
    if multitask == queue.INTERRUPT:
        for run in active:
            run_cancel(run=run)
        # The cancelled run that was held ended at once; the one owners may hold stops at its next check.
        return True
    raise ActiveRunExists(extra={"run_id": str(active[0].pk)})
