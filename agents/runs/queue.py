"""A session's queue of runs: what ``multitask`` does when a message arrives while the session is busy.

A session has at most one active run that owners may claim (the constraint
``run_one_active_per_session``). A message sent with ``multitask: enqueue``
(or ``interrupt``) while the session is busy gets a run ``on_hold``: queued,
but claimable by no owner. When the active run ends, whoever ends it (its
owner, a cancel, the sweeper that fails a lost run), ``run_finish`` calls
``session_promote_next`` after its commit: the oldest held run of the
session is taken off hold and ``run_ready`` is sent, which the runtime turns
into a submit. Promotion locks the session row first, as admission does, so
a run put on hold while the active one ends is never left behind; a
promotion lost to a crash between the two commits is redone by the sweeper
(``sessions_with_stalled_queue``).

A run that ends looks in the database only when its session has a queue: a
held run marks its session in the cache (``mark_waiting``), then checks once
itself, so either the run that ends sees the mark or the held run sees that
run ended. A run of a session without a queue costs no statement here.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import transaction

from agents.models import Run
from agents.runs import selectors
from agents.runs.signals import run_ready
from sessions.models import ChatSession

logger = logging.getLogger(__name__)

REJECT, ENQUEUE, INTERRUPT = "reject", "enqueue", "interrupt"
WAITING_TTL = 24 * 3600


def _waiting_key(session_id: uuid.UUID | str) -> str:
    return f"agent-session-queue:{session_id}"


def mark_waiting(*, session_id: uuid.UUID | str, lease_until) -> None:
    """Note that the session has a held run (after its commit), then promote it if the active run already ended."""
    cache.set(_waiting_key(session_id), 1, WAITING_TTL)
    promote_after_finish(session_id=session_id, lease_until=lease_until)


MULTITASK_STRATEGIES = (REJECT, ENQUEUE, INTERRUPT)


def session_lock(*, session_id: uuid.UUID | str) -> None:
    """Lock the session's row until the transaction ends: who looks at its active runs, one at a time."""
    list(ChatSession.objects.select_for_update().filter(pk=session_id).values_list("pk", flat=True))


def session_promote_next(*, session_id: uuid.UUID | str, lease_until) -> Run | None:
    """Take the session's oldest held run off hold when no other run of it is active; return it, or None.

    In a transaction of its own (or the caller's); ``run_ready`` is sent after the commit.
    """
    with transaction.atomic():
        session_lock(session_id=session_id)
        if Run.objects.filter(session_id=session_id, status__in=Run.ACTIVE_STATUSES, on_hold=False).exists():
            return None
        held = (
            Run.objects.select_for_update()
            .filter(session_id=session_id, status=Run.Status.QUEUED, on_hold=True)
            .order_by("created_at", "id")
            .first()
        )
        if held is None:
            cache.delete(_waiting_key(session_id))
            return None
        # The lease of a queued run is when the sweeper hands it over again (a lost submit).
        Run.objects.filter(pk=held.pk).update(on_hold=False, lease_until=lease_until)
        held.on_hold, held.lease_until = False, lease_until
        run_id = str(held.pk)
        transaction.on_commit(lambda: run_ready.send(sender=Run, run_id=run_id))
    logger.info("Run %s: its session's active run ended; it starts now", run_id)
    return held


def promote_after_finish(*, session_id: uuid.UUID | str, lease_until) -> None:
    """Promote the session's next held run once a run of it ended; a failure is left to the sweeper."""
    if not cache.get(_waiting_key(session_id)):
        return  # no run waits in this session (see mark_waiting)
    try:
        session_promote_next(session_id=session_id, lease_until=lease_until)
    except Exception:
        logger.warning("Session %s: could not start its next run; the sweeper will", session_id, exc_info=True)


def promote_stalled(*, limit: int, lease_until) -> list[str]:
    """Promote the next run of sessions whose held runs wait behind no active run (a promotion was lost)."""
    promoted = []
    for session_id in selectors.sessions_with_stalled_queue(limit=limit):
        run = session_promote_next(session_id=session_id, lease_until=lease_until)
        if run is not None:
            promoted.append(str(run.pk))
    return promoted
