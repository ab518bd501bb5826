"""The run's event stream: ``emit()`` and the catalogue of event types.

``emit()`` is the only way an event comes to be. Callers pass typed events
of ``agents.events.catalogue`` (each built and checked where it is made);
``emit()`` numbers them, stores them, encoded once as the one line of JSON
every stream sends, and only after the commit hands each frame to the bus:
live streams send it from memory, replays send the stored text.

Two ways to store, one numbering:

- **A claimed run** (its ``owner`` set: the engine's runs; ``agents.events.log``) is numbered in
  memory by its owner and written by **group commit**: the first thread with
  an event to write takes every pending event of the run and writes them in
  one transaction (one INSERT, one fenced UPDATE of the run), then publishes
  them; events emitted meanwhile, by parallel executors, wait for the next
  batch. Idle, nothing waits; busy, events batch. The fenced UPDATE names the
  owner and attempt: a process that lost its lease writes nothing and gets
  RunGone, so two attempts never interleave their events. ``emit()`` returns
  once its events are stored and published.
- **Anything else** (a run finished by the sweeper, tests) locks the run row
  and takes the next seq from it, in the caller's transaction.

State changes that must commit with their events (a step's end, the run's
end) are passed as ``writes`` (run in the same transaction, before the
events) and ``run_update`` (fields of the run, folded into the fenced UPDATE).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from django.db import connection, models, transaction

from agents.events import bus
from agents.events.catalogue import EVENTS, Event
from agents.events.log import RunLog, Writes, encode, forget_log, increments_sql, insert_rows, log_for
from agents.exceptions import RunGone
from agents.models import Run, RunEvent

SESSION = "session"
ANALYSIS = "analysis"
PLAN_CREATED = "plan_created"
PLAN_REVISED = "plan_revised"
STEP_START = "step_start"
EXECUTOR_SPAWNED = "executor_spawned"
TEXT = "text"
THINKING = "thinking"
TOOL_CALL = "tool_call"
TOOL_RESULT = "tool_result"
EXECUTOR_RESULT = "executor_result"
STEP_COMPLETE = "step_complete"
RETRY = "retry"
APPROVAL_REQUIRED = "approval_required"
APPROVAL_RESULT = "approval_result"
RESUMED = "resumed"
BUDGET_WARNING = "budget_warning"
ERROR = "error"
DONE = "done"

TYPES = frozenset(EVENTS)
# Fields every event carries, set by emit() (not by an event's own fields).
RESERVED_FIELDS = frozenset({"type", "run_id", "session_id", "seq", "ts"})


def _check(items: tuple[Event, ...]) -> None:
    if not items:
        raise ValueError("emit() needs at least one event")
    for item in items:
        if not isinstance(item, Event):
            raise TypeError(f"emit() takes events of agents.events.catalogue, not {type(item).__name__}")


def forget(run: Run, *, owner: str | None = None) -> None:
    """Drop this process's log of a run it no longer holds (released, finished, taken over).

    ``owner``: the owner it was held as, when ``run.owner`` was already cleared by the release.
    """
    forget_log((str(run.pk), run.owner if owner is None else owner, run.attempt))


@contextlib.contextmanager
def _deferring(run: Run) -> Iterator[RunLog | None]:
    """Yield the log a claimed run's rows and counters wait in (its condition held), or None: write them now."""
    if not run.owner or connection.in_atomic_block:
        yield None
        return
    log = log_for(run)
    with log.condition:
        if log.lost is not None:
            raise log.gone()
        if not log.rows and not log.increments:
            log.deferred_since = time.monotonic()
        yield log


def defer(run: Run, *rows: models.Model) -> None:
    """Store new rows of a run with its next batch (a claimed run's), or now (any other run)."""
    with _deferring(run) as log:
        if log is not None:
            log.rows.extend(rows)
            return
    with transaction.atomic():
        insert_rows(list(rows))


def add_usage(run: Run, **increments: Any) -> None:
    """Add to a run's counters (``F() + n``; a ``False`` flag is set) with its next batch, or now."""
    with _deferring(run) as log:
        if log is not None:
            for name, value in increments.items():
                if isinstance(value, bool):
                    log.increments[name] = log.increments.get(name, True) and value
                else:
                    log.increments[name] = log.increments.get(name, 0) + value
            return
    Run.objects.filter(pk=run.pk).update(**increments_sql(increments))


@contextlib.contextmanager
def streaming(run: Run) -> Iterator[None]:
    """Mark a model call of the run as streaming: its text goes out alone, rows and counters wait for after."""
    if not run.owner:
        yield
        return
    log = log_for(run)
    with log.condition:
        log.streaming += 1
    try:
        yield
    finally:
        with log.condition:
            log.streaming -= 1


def flush(run: Run) -> None:
    """Store everything of a claimed run still waiting in memory (before the run is released)."""
    if run.owner:
        log = log_for(run)
        with log.condition:
            log.flush()


def emit(
    run: Run | uuid.UUID | str,
    *items: Event,
    writes: Writes | None = None,
    run_update: Mapping[str, Any] | None = None,
    later: bool = False,
    with_rows: bool = False,
) -> int:
    """Store the run's next events (in order, with ``writes`` and ``run_update``), then wake its listeners.

    Returns the last event's seq. Once a run has finished, only closing events
    (``error`` and ``done``, from ``run_finish``) may be stored: agent code
    still going after a sweeper ended its run gets RunGone and stops, so
    ``done`` stays last.

    ``later``: a claimed run's events are numbered now but written with the
    next batch, for an event the caller knows another follows at once (the
    route before the tool call it announces): one batch instead of two.
    ``with_rows``: the batch also stores every row the run deferred (a write
    tool's call is on record before the tool acts).
    """
    _check(items)
    if isinstance(run, Run) and run.owner:
        if connection.in_atomic_block:
            raise RuntimeError("emit() of a claimed run writes its own transaction; pass writes= instead")
        log = log_for(run)
        with log.condition:
            seq = log.add(items, writes, run_update)
            log.rows_wanted = log.rows_wanted or with_rows
            if not later:
                log.write(seq)
        run.last_event_seq = max(run.last_event_seq, seq)
        if any(item.closing for item in items):
            forget(run)
        return seq
    return _emit_locked(run, items, writes=writes, run_update=run_update)


def store_claimed(run: Run, event: Event) -> None:
    """Store a run's event numbered by the claim that just took the run (its ``last_event_seq``), in its transaction.

    The claim's conditional UPDATE locked the row and set the seq: one INSERT more, no fence of its own.
    """
    item = encode(run_id=str(run.pk), session_id=str(run.session_id), seq=run.last_event_seq, event=event)
    RunEvent.objects.create(run_id=run.pk, seq=item.seq, type=item.type, data=item.data, frame=item.frame)
    run_key = str(run.pk)
    transaction.on_commit(lambda: bus.publish(run_key, item.seq, frame=(item.type, item.frame)))


def _emit_locked(
    run: Run | uuid.UUID | str, items: tuple[Event, ...], *, writes: Writes | None, run_update: Mapping[str, Any] | None
) -> int:
    run_id = run.pk if isinstance(run, Run) else run
    closing = any(item.closing for item in items)
    with transaction.atomic():
        try:
            locked = Run.objects.select_for_update().only("id", "session_id", "status", "last_event_seq").get(pk=run_id)
        except Run.DoesNotExist:
            raise RunGone(f"Run {run_id} no longer exists") from None
        if not closing and locked.status not in Run.ACTIVE_STATUSES:
            raise RunGone(f"Run {run_id} already finished ({locked.status})")
        if writes is not None:
            writes()
        batch = [
            encode(run_id=str(locked.pk), session_id=str(locked.session_id), seq=locked.last_event_seq + n, event=item)
            for n, item in enumerate(items, start=1)
        ]
        RunEvent.objects.bulk_create(
            [RunEvent(run_id=locked.pk, seq=i.seq, type=i.type, data=i.data, frame=i.frame) for i in batch]
        )
        Run.objects.filter(pk=locked.pk).update(last_event_seq=batch[-1].seq, **(run_update or {}))
        run_key = str(locked.pk)
        transaction.on_commit(
            lambda: [bus.publish(run_key, i.seq, frame=(i.type, i.frame)) for i in batch]  # type: ignore[func-returns-value]
        )
    if isinstance(run, Run):
        run.last_event_seq = batch[-1].seq
    return batch[-1].seq
