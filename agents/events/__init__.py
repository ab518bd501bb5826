"""The run's event stream: ``emit()`` and the catalogue of event types.

``emit()`` is the only way an event comes to be. Callers pass typed events
of ``agents.events.catalogue`` (each built and checked where it is made);
``emit()`` numbers them, stores them, encoded once as the one line of JSON
every stream sends, and only after the commit hands each frame to the bus:
live streams send it from memory, replays send the stored text.

Two ways to store, one numbering:

- **A claimed run** (its ``owner`` set: the engine's runs) is numbered in
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
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone

from agents.events import bus
from agents.events.catalogue import EVENTS, Event
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
Writes = Callable[[], None]


class _Pending:
    __slots__ = ("data", "frame", "seq", "type")

    def __init__(self, seq: int, type: str, data: dict[str, Any], frame: str):
        self.seq, self.type, self.data, self.frame = seq, type, data, frame


def _encode(*, run_id: str, session_id: str, seq: int, event: Event) -> _Pending:
    data = {
        "type": event.type,
        "run_id": run_id,
        "session_id": session_id,
        "seq": seq,
        "ts": timezone.now().isoformat().replace("+00:00", "Z"),
        **event.payload(),
    }
    # ASCII-escaped: model text can never break a line, forge a frame or an id.
    return _Pending(seq, event.type, data, json.dumps(data, separators=(",", ":"), cls=DjangoJSONEncoder))


def _check(items: tuple[Event, ...]) -> None:
    if not items:
        raise ValueError("emit() needs at least one event")
    for item in items:
        if not isinstance(item, Event):
            raise TypeError(f"emit() takes events of agents.events.catalogue, not {type(item).__name__}")


# Deferred rows and counters older than this go out with the next batch that is not streaming text.
ROWS_WAIT_SECONDS = 1.0


class RunLog:
    """What one run held by this process has yet to write: its events (numbered here), rows and counters.

    Rows (``defer``: agents, model calls, executions, plans) and usage counters
    (``add_usage``) are written with a batch that needs them: one whose event
    announces them (``carries_rows``: a plan, a step, an executor), one with
    ``writes`` (which may update them), the run's last one, a ``flush()``
    before the run is released, or any batch but a streaming model call's
    text once they have waited ROWS_WAIT_SECONDS. A crash loses at most the
    records of the last second, and of calls whose run is resumed anyway.
    """

    def __init__(self, run: Run):
        self.run_id = run.pk
        self.key = (str(run.pk), run.owner, run.attempt)
        self.run_key = str(run.pk)
        self.session_key = str(run.session_id)
        self.owner, self.attempt = run.owner, run.attempt
        self.assigned = run.last_event_seq  # the last seq handed out
        self.committed = run.last_event_seq  # the last seq stored
        self.pending: list[_Pending] = []
        self.writes: list[Writes] = []
        self.run_update: dict[str, Any] = {}
        self.rows: list[models.Model] = []
        self.increments: dict[str, Any] = {}
        self.deferred_since = 0.0  # when the oldest row or counter now waiting was deferred
        self.rows_wanted = False  # an event waiting to be written wants the rows stored with it
        self.streaming = 0  # model calls of the run streaming now
        self.committing = False
        self.lost: BaseException | None = None
        self.condition = threading.Condition()

    def gone(self) -> RunGone:
        return RunGone(f"Run {self.run_id} is no longer held by {self.owner} (attempt {self.attempt})")

    def add(self, items: tuple[Event, ...], writes: Writes | None, run_update: Mapping[str, Any] | None) -> int:
        """Number and queue events (with their writes); return the last seq. Call with the condition held."""
        if self.lost is not None:
            raise self.gone()
        for item in items:
            self.assigned += 1
            self.pending.append(
                _encode(run_id=self.run_key, session_id=self.session_key, seq=self.assigned, event=item)
            )
        if writes is not None:
            self.writes.append(writes)
        if run_update:
            self.run_update.update(run_update)
        return self.assigned

    def write(self, seq: int) -> None:
        """Return once ``seq`` is stored and published: by this thread's batch, or by another's."""
        while True:
            if self.committed >= seq:
                return
            if self.lost is not None:
                raise self.gone()
            if not self.committing:
                self._lead(force_rows=False)
                continue
            self.condition.wait()

    def flush(self) -> None:
        """Return once every deferred row and counter is stored (the run is about to be released)."""
        while self.committing:
            self.condition.wait()
        if self.lost is not None:
            raise self.gone()
        if self.pending or self.rows or self.increments or self.writes:
            self._lead(force_rows=True)

    def _lead(self, *, force_rows: bool) -> None:
        """Write everything pending in one transaction, then publish it. Called with the condition held."""
        condition = self.condition
        batch, writes, run_update = self.pending, self.writes, self.run_update
        self.pending, self.writes, self.run_update = [], [], {}
        closing = any(EVENTS[item.type].closing for item in batch)
        rows, increments = [], {}
        force_rows, self.rows_wanted = force_rows or self.rows_wanted, False
        if self.rows or self.increments:
            now = time.monotonic()
            if (
                force_rows
                or closing
                or writes
                or any(EVENTS[item.type].carries_rows for item in batch)
                or (not self.streaming and now - self.deferred_since >= ROWS_WAIT_SECONDS)
            ):
                rows, increments = self.rows, self.increments
                self.rows, self.increments = [], {}
        last = batch[-1].seq if batch else self.committed
        self.committing = True
        condition.release()
        failure: BaseException | None = None
        try:
            try:
                self._commit(batch, writes, {**run_update, **_added(increments)}, rows, last=last, closing=closing)
            except BaseException as exc:  # the batch is not stored: nothing of it was sent
                failure = exc
            else:
                for item in batch:
                    bus.publish(self.run_key, item.seq, frame=(item.type, item.frame))
        finally:
            condition.acquire()
            self.committing = False
            if failure is None:
                self.committed = last
            else:
                # Seqs were handed out that will never be stored: this log is done. After a fence
                # failure every later emit gets RunGone (the run's next owner starts from the stored
                # maximum, no gap); after any other failure the next emit starts a new log from the
                # last stored seq (e.g. run_finish storing `internal_error` after the answer failed).
                self.lost = failure
            condition.notify_all()
        if failure is not None:
            raise failure

    def _commit(
        self,
        batch: list[_Pending],
        writes: list[Writes],
        run_update: dict[str, Any],
        rows: list[models.Model],
        *,
        last: int,
        closing: bool,
    ) -> None:
        with transaction.atomic():
            fence = Run.objects.filter(pk=self.run_id, owner=self.owner, attempt=self.attempt)
            if not closing:
                fence = fence.filter(status__in=Run.ACTIVE_STATUSES)
            if not fence.update(last_event_seq=last, **run_update):
                raise self.gone()
            _insert(rows)
            for write in writes:
                write()
            if batch:
                RunEvent.objects.bulk_create(
                    [
                        RunEvent(run_id=self.run_id, seq=item.seq, type=item.type, data=item.data, frame=item.frame)
                        for item in batch
                    ]
                )


def _insert(rows: list[models.Model]) -> None:
    """Insert deferred rows: one INSERT per model, models in the order they first appear (parents first)."""
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for row in rows:
        by_model.setdefault(type(row), []).append(row)
    for model, instances in by_model.items():
        model.objects.bulk_create(instances)


def _added(increments: dict[str, Any]) -> dict[str, Any]:
    """Turn counters to add into UPDATE expressions (``False`` flags are set, not added)."""
    return {name: value if isinstance(value, bool) else F(name) + value for name, value in increments.items()}


_logs: dict[tuple[str, str, int], RunLog] = {}
_logs_lock = threading.Lock()


def _log_for(run: Run) -> RunLog:
    key = (str(run.pk), run.owner, run.attempt)
    with _logs_lock:
        log = _logs.get(key)
        if log is None or (log.lost is not None and not isinstance(log.lost, RunGone)):
            fresh = RunLog(run)
            if log is not None:
                fresh.assigned = fresh.committed = log.committed
            log = _logs[key] = fresh
        return log


def _forget(key: tuple[str, str, int]) -> None:
    with _logs_lock:
        _logs.pop(key, None)


def forget(run: Run, *, owner: str | None = None) -> None:
    """Drop this process's log of a run it no longer holds (released, finished, taken over).

    ``owner``: the owner it was held as, when ``run.owner`` was already cleared by the release.
    """
    _forget((str(run.pk), run.owner if owner is None else owner, run.attempt))


@contextlib.contextmanager
def _deferring(run: Run) -> Iterator[RunLog | None]:
    """Yield the log a claimed run's rows and counters wait in (its condition held), or None: write them now."""
    if not run.owner or connection.in_atomic_block:
        yield None
        return
    log = _log_for(run)
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
        _insert(list(rows))


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
    Run.objects.filter(pk=run.pk).update(**_added(increments))


@contextlib.contextmanager
def streaming(run: Run) -> Iterator[None]:
    """Mark a model call of the run as streaming: its text goes out alone, rows and counters wait for after."""
    if not run.owner:
        yield
        return
    log = _log_for(run)
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
        log = _log_for(run)
        with log.condition:
            log.flush()


def held_logs() -> int:
    """How many runs this process numbers events for (the runs it holds)."""
    return len(_logs)


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
        log = _log_for(run)
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
    item = _encode(run_id=str(run.pk), session_id=str(run.session_id), seq=run.last_event_seq, event=event)
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
            _encode(run_id=str(locked.pk), session_id=str(locked.session_id), seq=locked.last_event_seq + n, event=item)
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
