"""How a run ends: its final status, answer and last events, cancels, and stopping runs for a deletion."""

import time
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from agents import events
from agents.events import catalogue
from agents.exceptions import RunGone, RunNotFound
from agents.llm.usage import Usage
from agents.models import Execution, PlanStep, Run
from agents.runs import approvals, costs, limits, queue
from agents.runs.services.ownership import lease_end, session_event
from agents.telemetry import metrics
from sessions import services as session_services
from sessions.models import ChatSession, Message


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
        locked = active.select_for_update().only(*Usage.COUNTERS, "started_at").first()
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
        for name in (*Usage.COUNTERS, "started_at"):
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
            usage=catalogue.Usage(**Usage.of(run).event()),
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
    for name in Usage.COUNTERS:
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
