"""Who runs a run: claims, leases, releases and requeues (fenced by owner and attempt)."""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents import events
from agents.events import catalogue
from agents.exceptions import RunGone
from agents.models import Execution, PlanStep, Run
from sessions.models import ChatSession, Message


def lease_end(seconds: float | None = None) -> datetime:
    """Return when a lease taken now ends (AGENT_LEASE_SECONDS, or ``seconds``)."""
    return timezone.now() + timedelta(seconds=settings.AGENT_LEASE_SECONDS if seconds is None else seconds)


def _interrupt_lost_work(*, run_id: uuid.UUID | str) -> None:
    """Mark the executions a lost or released attempt left running as interrupted; their steps run again."""
    Execution.objects.filter(run_id=run_id, status=Execution.Status.RUNNING).update(
        status=Execution.Status.INTERRUPTED,
        error="Its worker stopped; the step runs again.",
        finished_at=timezone.now(),
    )
    PlanStep.objects.filter(plan__run_id=run_id, status=PlanStep.Status.RUNNING).update(
        status=PlanStep.Status.PENDING, started_at=None
    )


def run_claim(*, run_id: uuid.UUID | str, owner: str) -> Run | None:
    """Take the run for ``owner`` with one conditional UPDATE; None when someone else has it or it ended.

    A run can be claimed when it is queued, or running with an expired lease
    and attempts left. The UPDATE names the attempt it read, so of two
    claimers only one can win. A claim of a run that was running (its owner
    lost) marks that owner's executions interrupted first. The returned run
    carries ``owner`` and ``attempt``: events and writes are fenced by them.
    """
    # Whether the session has messages but this run's: a first message needs no history read.
    others = Message.objects.filter(session_id=OuterRef("session_id")).exclude(pk=OuterRef("user_message_id"))
    run = (
        Run.objects.select_related("session", "user", "user_message")
        .annotate(session_has_history=Exists(others))
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        return None
    now = timezone.now()
    if run.status == Run.Status.QUEUED and not run.on_hold:
        claimable = Run.objects.filter(status=Run.Status.QUEUED, on_hold=False)
    elif (
        run.status == Run.Status.RUNNING
        and run.lease_until is not None
        and run.lease_until < now
        and run.attempts_counted < settings.AGENT_MAX_ATTEMPTS
    ):
        claimable = Run.objects.filter(status=Run.Status.RUNNING, lease_until__lt=now)
    else:
        return None
    lease_until = lease_end()
    # A run's first claim stores its first event, `session`, in the claim's transaction (numbered by the UPDATE).
    fresh = run.last_event_seq == 0
    with transaction.atomic():
        updated = claimable.filter(pk=run.pk, attempt=run.attempt, last_event_seq=run.last_event_seq).update(
            status=Run.Status.RUNNING,
            owner=owner,
            attempt=F("attempt") + 1,
            lease_until=lease_until,
            started_at=Coalesce(F("started_at"), Value(now)),
            resume_reason=Case(
                When(status=Run.Status.RUNNING, then=Value("worker_lost")),
                When(attempt__gt=0, resume_reason="", then=Value("worker_lost")),
                default=F("resume_reason"),
            ),
            **({"last_event_seq": 1} if fresh else {}),
        )
        if updated and fresh:
            run.last_event_seq = 1
            events.store_claimed(run, session_event(run.session))
    if not updated:
        return None
    # What the UPDATE wrote, without reading it back.
    if run.status == Run.Status.RUNNING or (run.attempt > 0 and not run.resume_reason):
        run.resume_reason = "worker_lost"
    if run.status == Run.Status.RUNNING:
        _interrupt_lost_work(run_id=run.pk)
    run.status, run.owner, run.attempt, run.lease_until = Run.Status.RUNNING, owner, run.attempt + 1, lease_until
    run.started_at = run.started_at or now
    return run


def session_event(session: ChatSession) -> catalogue.SessionEvent:
    """Return the `session` event, the first of every run."""
    return catalogue.SessionEvent(
        session=catalogue.SessionInfo(
            id=str(session.pk),
            title=session.title,
            context_type=session.context_type,
            entity_id=session.entity_id,
            created_at=session.created_at,
        )
    )


def runs_renew_leases(*, owner: str, run_ids: list[str]) -> set[str]:
    """Extend the leases ``owner`` holds on these runs (one UPDATE); return the ids it no longer holds."""
    if not run_ids:
        return set()
    renewed = Run.objects.filter(pk__in=run_ids, owner=owner, status=Run.Status.RUNNING).update(lease_until=lease_end())
    if renewed == len(run_ids):
        return set()
    held = {
        str(pk)
        for pk in Run.objects.filter(pk__in=run_ids, owner=owner, status=Run.Status.RUNNING).values_list(
            "pk", flat=True
        )
    }
    return set(map(str, run_ids)) - held


def run_release(*, run: Run, reason: str) -> bool:
    """Give the run back to the queue (drain): another owner resumes it; False if it was no longer ours."""
    try:
        events.flush(run)  # what the owner still holds in memory (rows, counters) is stored before it lets go
    except RunGone:
        return False
    events.forget(run)
    with transaction.atomic():
        released = Run.objects.filter(
            pk=run.pk, owner=run.owner, attempt=run.attempt, status=Run.Status.RUNNING
        ).update(status=Run.Status.QUEUED, owner="", lease_until=timezone.now(), resume_reason=reason)
        if released:
            _interrupt_lost_work(run_id=run.pk)
    return bool(released)


def run_requeue_lost(*, run: Run, owner_dead: bool = False) -> bool:
    """Queue again a running run whose owner was lost; False if that is no longer so.

    Lost means its lease expired, or (``owner_dead``) its owner's process is
    known to be gone and still holds it.
    """
    lost = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, attempt=run.attempt)
    lost = lost.filter(owner=run.owner) if owner_dead else lost.filter(lease_until__lt=timezone.now())
    with transaction.atomic():
        requeued = lost.update(status=Run.Status.QUEUED, owner="", lease_until=lease_end(), resume_reason="worker_lost")
        if requeued:
            _interrupt_lost_work(run_id=run.pk)
    return bool(requeued)


def run_mark_submitted(*, run_id: uuid.UUID | str) -> None:
    """Note that a queued run was handed to a runner again, so the sweeper waits a lease before the next try."""
    Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(lease_until=lease_end())
