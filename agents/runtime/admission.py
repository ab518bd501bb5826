"""Admission: check, then store, then submit — the one way a message becomes a run.

``run_accept`` is what ``POST /api/agent/stream`` (through ``sync_to_async``)
and ``manage.py chat`` call with a validated request (the HTTP layer's
``StreamRequestSerializer``): check the context, the rate and the token
budget, store the message and a queued run in one transaction, count the
message, and hand the run to the runner once that transaction has committed.
"""

import logging
import time
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from agents.engine import context
from agents.events import bus
from agents.models import Run
from agents.runs import costs, limits, queue, services
from agents.runtime import runners

logger = logging.getLogger(__name__)


def run_accept(
    *,
    user: AbstractBaseUser,
    message: str,
    session_id: uuid.UUID | None = None,
    context_type: str | None = None,
    entity_id: str | None = None,
    multitask: str = queue.REJECT,
    conversation_history: list[tuple[str, str]] | None = None,
    review_plan: bool = False,
    idempotency_key: str | None = None,
    run_id: uuid.UUID | None = None,
    new_session_id: uuid.UUID | None = None,
) -> tuple[Run, bool]:
    """Admit a validated message: check the limits, store it with a queued run, and hand the run over.

    Returns ``(run, created)``; ``created`` is False when the Idempotency-Key
    joined an earlier run (nothing new is stored, counted or submitted).
    The rate and the budget are checked before anything is stored; nothing is
    stored when a check fails. A retry with an Idempotency-Key is checked
    like a new message (at a full limit it answers 429 too, and joins its run
    once the Retry-After has passed) but never counted twice. Raises
    InvalidInput (a context, an Idempotency-Key, a history on an old
    session), RateLimited, BudgetExceeded, CostBudgetExceeded, NotFound,
    ActiveRunExists or IdempotencyMismatch.

    A new session's ``context_type`` and ``entity_id`` are checked by the
    context provider of that type, as the user (400 ``unknown_context_type``
    for a type nobody registered, or an entity the provider refuses). A run
    put on hold behind the session's active one (``multitask``) is not
    submitted: it is when that run ends (``runs.queue``).

    ``run_id`` and ``new_session_id`` are ids a client chose (AG-UI's run id,
    a chat id bound to a new session): see ``services.run_create``.
    """
    if session_id is None:
        context.context_check(user=user, context_type=context_type, entity_id=entity_id)
    limits.rate_check(user_id=user.pk)
    estimate = limits.estimate_run_tokens(message)
    reservation = limits.budget_reserve(user_id=user.pk, tokens=estimate)
    try:
        cost_hold = costs.admission_hold(user_id=user.pk, message=message)
    except BaseException:
        limits.budget_release(reservation)
        raise
    try:
        # One transaction around the run and the rate count: when a racing
        # request took the last slot, rate_hit refuses and the run is rolled back.
        with transaction.atomic():
            run, created = services.run_create(
                user=user,
                idempotency_key=idempotency_key,
                reserved_tokens=reservation.tokens,
                run_id=run_id,
                new_session_id=new_session_id if session_id is None else None,
                message=message,
                session_id=session_id,
                context_type=context_type,
                entity_id=entity_id,
                multitask=multitask,
                conversation_history=conversation_history,
                review_plan=review_plan,
            )
            if created:
                limits.rate_hit(user_id=user.pk)
    except BaseException:
        limits.budget_release(reservation)
        costs.admission_release(cost_hold)
        raise
    if not created:
        limits.budget_release(reservation)  # the joined run holds its own
        costs.admission_release(cost_hold)
        return run, False
    limits.budget_attach(reservation, run_id=run.pk)
    costs.admission_attach(cost_hold, run_id=run.pk)
    if not run.on_hold:
        runners.submit(run.pk)
    # Wake the session's feeds: a new run to follow (a value that only grows: the time in ms).
    bus.publish(bus.session_key(str(run.session_id)), int(time.time() * 1000))
    return run, True
