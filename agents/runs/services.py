"""Writes of the engine's models, shared by views, admin, the engine and commands.

Keyword-only and typed (STYLE.md). Check, then do: each service validates and
locks in one step, then changes state; events go out through ``emit()``.
"""

import hashlib
import json
import threading
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents import events
from agents.events import catalogue
from agents.exceptions import ActiveRunExists, IdempotencyMismatch, InvalidInput, RunGone, RunNotFound
from agents.models import Agent, AgentMessage, Execution, Memory, Plan, PlanStep, PlanStepDependency, Run, WorkerProcess
from agents.runs import approvals, costs, limits, queue, selectors
from agents.runs.plans import PlanSpec
from agents.telemetry import metrics
from sessions import selectors as session_selectors
from sessions import services as session_services
from sessions.models import ChatSession, Message

IDEMPOTENCY_WINDOW = timedelta(hours=24)
CONTEXT_TYPE_MAX_CHARS = 64
ENTITY_ID_MAX_CHARS = 255
IDEMPOTENCY_KEY_MAX_CHARS = 255
MEMORY_MAX_CHARS = 2000
_usage_lock = threading.Lock()


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


def run_set_trace_id(*, run: Run, trace_id: str) -> None:
    """Record the run's OpenTelemetry trace id."""
    Run.objects.filter(pk=run.pk).update(trace_id=trace_id)
    run.trace_id = trace_id


def run_set_route(*, run: Run, route: str, reason: str) -> None:
    """Record the planner's route and why."""
    Run.objects.filter(pk=run.pk).update(route=route, route_reason=reason)
    run.route, run.route_reason = route, reason


def run_add_usage(
    *,
    run: Run,
    prompt_tokens: int,
    completion_tokens: int,
    llm_calls: int = 1,
    cost_usd: Decimal = Decimal(0),
    cost_known: bool = True,
) -> None:
    """Add one LLM call's usage and cost to the run, atomically (executors add in parallel).

    The session gets the run's cost once, when the run finishes (``run_finish``).
    """
    costs: dict[str, Any] = {"cost_usd": cost_usd} if cost_usd else {}
    if not cost_known:
        costs["cost_known"] = False
    # With the run's next batch of events (its owner's), or now: one fenced UPDATE carries both.
    events.add_usage(
        run,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        llm_calls=llm_calls,
        **costs,
    )
    with _usage_lock:  # the owner's copy (its threads add in parallel): run_finish reads no row back
        run.prompt_tokens += prompt_tokens
        run.completion_tokens += completion_tokens
        run.total_tokens += prompt_tokens + completion_tokens
        run.llm_calls += llm_calls
        run.cost_usd += cost_usd
        run.cost_known = run.cost_known and cost_known


USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "llm_calls", "cost_usd", "cost_known")


def usage_payload(counted: Run | Execution) -> dict[str, Any]:
    """Return the ``usage`` of a `done` or `executor_result` event: tokens, calls and dollars (a JSON number)."""
    return {
        "prompt_tokens": counted.prompt_tokens,
        "completion_tokens": counted.completion_tokens,
        "total_tokens": counted.total_tokens,
        "llm_calls": counted.llm_calls,
        "cost_usd": float(counted.cost_usd),
        "cost_known": counted.cost_known,
    }


def run_finish(
    *,
    run: Run,
    status: str,
    answer: str = "",
    assistant_message: Message | None = None,
    error_code: str = "",
    error_message: str = "",
    error_detail: str = "",
    fenced: bool = False,
    close_open_work: bool = True,
    preceding: list[catalogue.Event] | None = None,
    run_update: dict[str, Any] | None = None,
) -> bool:
    """End an active run: its final status, the answer stored, then its last events ``error`` and ``done``.

    All in one transaction, so a run is never finished without its ``done``
    nor answered twice. Only the first finisher speaks: when the run had
    already ended (or, with ``fenced``, when ``run.owner`` and ``run.attempt``
    no longer hold it) this returns False, stores and emits nothing. Steps and
    executions still open are closed (a swept run leaves nothing running); an
    owner that knows its run had no plan says so with ``close_open_work=False``.
    """
    if status not in Run.FINAL_STATUSES:
        raise ValueError(f"{status!r} is not a final run status")
    if fenced and run.owner:
        return _run_finish_owned(
            run=run,
            preceding=preceding or [],
            run_update=run_update or {},
            status=status,
            answer=answer,
            assistant_message=assistant_message,
            error_code=error_code,
            error_message=error_message,
            error_detail=error_detail,
            close_open_work=close_open_work,
        )
    now = timezone.now()
    active = Run.objects.filter(pk=run.pk, status__in=Run.ACTIVE_STATUSES)
    if fenced:
        active = active.filter(owner=run.owner, attempt=run.attempt)
    with transaction.atomic():
        # Lock first: nothing may be stored for a run that someone else is finishing.
        locked = active.select_for_update().only(*USAGE_FIELDS, "started_at").first()
        if locked is None:
            return False
        new_message = _answer_message(run=run, counted=locked, answer=answer, status=status, given=assistant_message)
        assistant_message = new_message or assistant_message
        # Once per run, in the transaction that ends it: the session's cost is the sum of its runs'.
        session_services.session_record_answer(session=run.session, message=new_message, cost_usd=locked.cost_usd)
        Run.objects.filter(pk=run.pk).update(
            status=status,
            finished_at=now,
            owner="",
            lease_until=None,
            assistant_message=assistant_message,
            error_code=error_code,
            error_message=error_message,
            error_detail=error_detail,
        )
        if close_open_work:
            _close_open_work(run_id=run.pk, now=now)
        for name in (*USAGE_FIELDS, "started_at"):
            setattr(run, name, getattr(locked, name))
        run.status, run.finished_at, run.owner, run.lease_until = status, now, "", None
        run.assistant_message = assistant_message
        run.error_code, run.error_message, run.error_detail = error_code, error_message, error_detail
        transaction.on_commit(lambda: metrics.run_finished(route=run.route, status=status, duration_ms=run.duration_ms))
        # After the commit, in a transaction of its own: the session's next run (multitask enqueue) may start.
        session_id = run.session_id
        transaction.on_commit(lambda: queue.promote_after_finish(session_id=session_id, lease_until=lease_end()))
        events.emit(run, *(preceding or []), *_closing_events(run), run_update=run_update)
    return True


def _closing_events(run: Run) -> list[catalogue.Event]:
    """Return the run's last events: ``error`` when it ended with one, then ``done``."""
    closing: list[catalogue.Event] = []
    if run.error_code:
        closing.append(catalogue.ErrorEvent(code=run.error_code, message=run.error_message, fatal=True))
    message = run.assistant_message_id
    closing.append(
        catalogue.DoneEvent(
            status=run.status,
            message_id=str(message) if message else None,
            usage=catalogue.Usage(**usage_payload(run)),
            duration_ms=run.duration_ms,
        )
    )
    return closing


def _run_finish_owned(
    *,
    run: Run,
    preceding: list[catalogue.Event],
    run_update: dict[str, Any],
    status: str,
    answer: str,
    assistant_message: Message | None,
    error_code: str,
    error_message: str,
    error_detail: str,
    close_open_work: bool,
) -> bool:
    """``run_finish`` by the run's owner: one transaction, fenced by the owner and attempt, no re-read.

    The owner holds the run's usage (``run_add_usage`` keeps it in memory too),
    so the answer, the session's cost, the run's final fields and the last
    events are written without reading the run back.
    """
    now = timezone.now()
    new_message = _answer_message(run=run, counted=run, answer=answer, status=status, given=assistant_message)
    assistant_message = new_message or assistant_message
    final = {
        "status": status,
        "finished_at": now,
        "lease_until": None,
        "assistant_message": assistant_message,
        "error_code": error_code,
        "error_message": error_message,
        "error_detail": error_detail,
    }
    ended = Run(pk=run.pk, session_id=run.session_id, started_at=run.started_at, **final)
    for name in USAGE_FIELDS:
        setattr(ended, name, getattr(run, name))

    def writes() -> None:
        # Once per run, in the transaction that ends it: the session's cost is the sum of its runs'.
        session_services.session_record_answer(session=run.session, message=new_message, cost_usd=run.cost_usd)
        if close_open_work:
            _close_open_work(run_id=run.pk, now=now)

    try:
        events.emit(
            run, *preceding, *_closing_events(ended), writes=writes, run_update={**run_update, **final, "owner": ""}
        )
    except RunGone:
        return False
    for name, value in final.items():
        setattr(run, name, value)
    run.owner = ""
    metrics.run_finished(route=run.route, status=status, duration_ms=run.duration_ms)
    queue.promote_after_finish(session_id=run.session_id, lease_until=lease_end())  # the session's next run, if any
    return True


def _answer_message(*, run: Run, counted: Run, answer: str, status: str, given: Message | None) -> Message | None:
    """Build (unsaved) the run's answer message, with the run's usage; None when there is none to store."""
    if not answer.strip() or given is not None:
        return None
    return session_services.message_build(
        session=run.session,
        role=Message.Role.ASSISTANT,
        content=answer,
        prompt_tokens=counted.prompt_tokens,
        completion_tokens=counted.completion_tokens,
        cost_usd=counted.cost_usd,
        # Anything but a completed run stored only part of its answer (cut, stopped, over a limit).
        status=Message.Status.COMPLETE if status == Run.Status.COMPLETED else Message.Status.INCOMPLETE,
    )


def _close_open_work(*, run_id: uuid.UUID, now: datetime) -> None:
    Execution.objects.filter(run_id=run_id, status=Execution.Status.RUNNING).update(
        status=Execution.Status.INTERRUPTED, error="The run ended before this execution did.", finished_at=now
    )
    PlanStep.objects.filter(plan__run_id=run_id, status__in=[PlanStep.Status.PENDING, PlanStep.Status.RUNNING]).update(
        status=PlanStep.Status.CANCELLED, error="The run ended before this step ran.", finished_at=now
    )


def run_cancel(*, run: Run) -> Run:
    """Ask a run to stop; idempotent. Its owner sees the flag at the next check.

    A run on hold (behind its session's active run) never started: it ends
    ``cancelled`` at once, with its ``session`` and ``done`` events.
    Raises RunNotFound when the run was deleted (with its session) since it was read.
    """
    with transaction.atomic():
        held = (
            Run.objects.select_for_update()
            .select_related("session")
            .filter(pk=run.pk, status=Run.Status.QUEUED, on_hold=True)
            .first()
        )
        if held is not None:
            events.emit(held, session_event(held.session))
            run_finish(run=held, status=Run.Status.CANCELLED, close_open_work=False)
            user_id, run_id = held.user_id, str(held.pk)
            transaction.on_commit(lambda: _settle_unstarted(user_id=user_id, run_id=run_id))
        else:
            Run.objects.filter(pk=run.pk, status__in=Run.ACTIVE_STATUSES).update(cancel_requested=True)
    # A run waiting for approvals has no owner to see the flag: it ends here, what it waited for rejected.
    with transaction.atomic():
        waiting = Run.objects.select_for_update().filter(pk=run.pk, status=Run.Status.WAITING).first()
        if waiting is not None:
            approvals.approvals_close(run=waiting)
            run_finish(run=waiting, status=Run.Status.CANCELLED)
    if waiting is not None:
        limits.budget_settle(user_id=waiting.user_id, run_id=str(waiting.pk), tokens_used=waiting.total_tokens)
        costs.run_settle(run_id=waiting.pk)
    try:
        run.refresh_from_db()
    except Run.DoesNotExist:
        raise RunNotFound() from None
    return run


def _settle_unstarted(*, user_id: int, run_id: str) -> None:
    """Give back what a run that never started reserved of the user's budgets."""
    limits.budget_settle(user_id=user_id, run_id=run_id, tokens_used=0)
    costs.run_settle(run_id=run_id)


def worker_register(*, name: str, kind: str, concurrency: int) -> None:
    """Record a live worker process (or refresh it)."""
    WorkerProcess.objects.update_or_create(
        name=name, defaults={"kind": kind, "concurrency": concurrency, "beat_at": timezone.now(), "draining": False}
    )


def worker_beat(*, name: str, draining: bool) -> None:
    """Record that a worker process is alive (and whether it drains)."""
    WorkerProcess.objects.filter(pk=name).update(beat_at=timezone.now(), draining=draining)


def worker_unregister(*, name: str) -> None:
    """Forget a worker process that stopped; also forget ones silent for an hour."""
    WorkerProcess.objects.filter(Q(pk=name) | Q(beat_at__lt=timezone.now() - timedelta(hours=1))).delete()


STOP_FOR_DELETION_SECONDS = 3.0


def runs_stop_for_deletion(*, session: ChatSession) -> None:
    """Ask the session's active runs to stop, and wait a moment for the running ones to do so."""
    Run.objects.filter(session=session, status__in=Run.ACTIVE_STATUSES).update(cancel_requested=True)
    deadline = time.monotonic() + STOP_FOR_DELETION_SECONDS
    while Run.objects.filter(session=session, status=Run.Status.RUNNING).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def runs_lock_for_deletion(*, session: ChatSession) -> None:
    """Lock the session's runs in a deleting transaction: an insert referencing one waits, then finds it gone."""
    list(Run.objects.select_for_update().filter(session=session).values_list("pk", flat=True))


def agent_create(*, run: Run, role: str, model: str, parent: Agent | None = None) -> Agent:
    """Create a planner (read-write) or an executor (always read-only) for a run."""
    permission = Agent.Permission.READ_ONLY if role == Agent.Role.EXECUTOR else Agent.Permission.READ_WRITE
    agent = Agent(run=run, role=role, model=model, permission=permission, parent=parent)
    events.defer(run, agent)  # stored with the run's next batch of events (the owner's), or now
    return agent


def agent_message_create(*, agent: Agent, run: Run, role: str, **fields: Any) -> AgentMessage:
    """Store one message of an agent's LLM conversation (an assistant row is one LLM call, with its usage).

    A claimed run's rows are stored with its next batch of events after the model call: one transaction per call.
    """
    message = AgentMessage(agent=agent, run=run, role=role, **fields)
    events.defer(run, message)
    return message


def memory_create(*, user: AbstractBaseUser, content: str) -> Memory:
    """Save a memory for the user."""
    content = content.strip()
    if not content:
        raise InvalidInput("A memory must not be empty.", code="invalid_memory", fields={"content": ["Required."]})
    if len(content) > MEMORY_MAX_CHARS:
        message = f"A memory must be at most {MEMORY_MAX_CHARS} characters."
        raise InvalidInput(message, code="invalid_memory", fields={"content": [message]})
    return Memory.objects.create(user=user, content=content)


def memory_delete(*, user: AbstractBaseUser, memory_id: uuid.UUID | str) -> bool:
    """Delete one of the user's memories; False when the user has no such memory."""
    try:
        deleted, _ = Memory.objects.filter(user=user, pk=memory_id).delete()
    except (ValidationError, ValueError, TypeError):
        return False
    return bool(deleted)


def plan_create(*, run: Run, agent: Agent, spec: PlanSpec) -> Plan:
    """Store a validated plan with its steps and dependency edges, all or nothing.

    A claimed run's plan is stored with its next batch (the one of `plan_created`). The
    plan's steps are at hand as ``plan.steps.all()`` (in order) without a query.
    """
    plan = Plan(run=run, agent=agent, objective=spec.objective)
    created = [
        PlanStep(plan=plan, key=step.key, position=position, title=step.title, instructions=step.instructions)
        for position, step in enumerate(spec.steps)
    ]
    steps = {step.key: step for step in created}
    edges = [
        PlanStepDependency(step=steps[step.key], depends_on=steps[dep])
        for step in spec.steps
        for dep in step.depends_on
    ]
    events.defer(run, plan, *created, *edges)
    cached = plan.steps.all()  # as a prefetch would leave it: plan.steps.all() needs no query
    cached._result_cache, cached._prefetch_done = created, True
    plan._prefetched_objects_cache = {"steps": cached}
    return plan


def step_start(*, step: PlanStep) -> None:
    """Mark a pending step running."""
    now = timezone.now()
    PlanStep.objects.filter(pk=step.pk).update(status=PlanStep.Status.RUNNING, started_at=now)
    step.status, step.started_at = PlanStep.Status.RUNNING, now


def step_finish(*, step: PlanStep, status: str, result: str = "", error: str = "") -> None:
    """Give a step its final status, result or error."""
    now = timezone.now()
    PlanStep.objects.filter(pk=step.pk).update(status=status, result=result, error=error, finished_at=now)
    step.status, step.result, step.error, step.finished_at = status, result, error, now


def execution_start(*, run: Run, step: PlanStep, agent: Agent, task: str) -> Execution:
    """Record that an executor took on a step (stored with the run's next batch, after its agent)."""
    execution = Execution(run=run, step=step, agent=agent, task=task, started_at=timezone.now())
    events.defer(run, execution)
    return execution


def execution_finish(
    *,
    execution: Execution,
    status: str,
    result: str = "",
    error: str = "",
    usage: dict[str, Any],
    finished_at: datetime | None = None,
) -> None:
    """Give an execution its final status and usage (tokens, calls, ``cost_usd`` and ``cost_known``)."""
    now = finished_at or timezone.now()
    counts = {name: usage[name] for name in USAGE_FIELDS if name in usage}
    Execution.objects.filter(pk=execution.pk).update(
        status=status, result=result, error=error, finished_at=now, **counts
    )
    execution.status, execution.result, execution.error, execution.finished_at = status, result, error, now
    for name, value in counts.items():
        setattr(execution, name, value)
