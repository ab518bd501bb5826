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

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
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


class RunLog:
    """The events of one run held by this process: its next seq and the batch waiting to be written."""

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
        self.committing = False
        self.lost: BaseException | None = None
        self.condition = threading.Condition()

    def add(self, items: tuple[Event, ...], writes: Writes | None, run_update: Mapping[str, Any] | None) -> int:
        """Number and queue events (with their writes); return the last seq. Call with the condition held."""
        if self.lost is not None:
            raise RunGone(f"Run {self.run_id} is no longer held by {self.owner} (attempt {self.attempt})")
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
        condition = self.condition
        while True:
            if self.committed >= seq:
                return
            if self.lost is not None:
                raise RunGone(f"Run {self.run_id} is no longer held by {self.owner} (attempt {self.attempt})")
            if not self.committing:
                break
            condition.wait()
        batch, writes, run_update = self.pending, self.writes, self.run_update
        self.pending, self.writes, self.run_update = [], [], {}
        self.committing = True
        condition.release()
        try:
            failure: BaseException | None = None
            try:
                self._commit(batch, writes, run_update)
            except BaseException as exc:  # the batch is not stored: nothing of it was sent
                failure = exc
            else:
                for item in batch:
                    bus.publish(self.run_key, item.seq, frame=(item.type, item.frame))
        finally:
            condition.acquire()
            self.committing = False
            if failure is None:
                self.committed = batch[-1].seq
            else:
                # Seqs were handed out that will never be stored: this log is done. After a fence
                # failure every later emit gets RunGone (the run's next owner starts from the stored
                # maximum, no gap); after any other failure the next emit starts a new log from the
                # last stored seq (e.g. run_finish storing `internal_error` after the answer failed).
                self.lost = failure
            condition.notify_all()
        if failure is not None:
            raise failure

    def _commit(self, batch: list[_Pending], writes: list[Writes], run_update: dict[str, Any]) -> None:
        closing = any(EVENTS[item.type].closing for item in batch)
        with transaction.atomic():
            fence = Run.objects.filter(pk=self.run_id, owner=self.owner, attempt=self.attempt)
            if not closing:
                fence = fence.filter(status__in=Run.ACTIVE_STATUSES)
            if not fence.update(last_event_seq=batch[-1].seq, **run_update):
                raise RunGone(f"Run {self.run_id} is no longer held by {self.owner} (attempt {self.attempt})")
            for write in writes:
                write()
            RunEvent.objects.bulk_create(
                [
                    RunEvent(run_id=self.run_id, seq=item.seq, type=item.type, data=item.data, frame=item.frame)
                    for item in batch
                ]
            )


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


def forget(run: Run) -> None:
    """Drop this process's log of a run it no longer holds (released, finished, taken over)."""
    _forget((str(run.pk), run.owner, run.attempt))


def held_logs() -> int:
    """How many runs this process numbers events for (the runs it holds)."""
    return len(_logs)


def emit(
    run: Run | uuid.UUID | str,
    *items: Event,
    writes: Writes | None = None,
    run_update: Mapping[str, Any] | None = None,
) -> int:
    """Store the run's next events (in order, with ``writes`` and ``run_update``), then wake its listeners.

    Returns the last event's seq. Once a run has finished, only closing events
    (``error`` and ``done``, from ``run_finish``) may be stored: agent code
    still going after a sweeper ended its run gets RunGone and stops, so
    ``done`` stays last.
    """
    _check(items)
    if isinstance(run, Run) and run.owner:
        if connection.in_atomic_block:
            raise RuntimeError("emit() of a claimed run writes its own transaction; pass writes= instead")
        log = _log_for(run)
        with log.condition:
            seq = log.add(items, writes, run_update)
            log.write(seq)
        run.last_event_seq = max(run.last_event_seq, seq)
        if any(item.closing for item in items):
            forget(run)
        return seq
    return _emit_locked(run, items, writes=writes, run_update=run_update)


def _emit_locked(
    run: Run | uuid.UUID | str, items: tuple[Event, ...], *, writes: Writes | None, run_update: Mapping[str, Any] | None
) -> int:
    run_id = run.pk if isinstance(run, Run) else run
    closing = all(item.closing for item in items)
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
