"""Group commit: a claimed run's events numbered in memory by its owner and written in batches.

The first thread with something to write takes every pending event of the run
and writes them in one transaction (one INSERT, one fenced UPDATE of the run),
then publishes them; events emitted meanwhile wait for the next batch.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from agents.events import bus
from agents.events.catalogue import EVENTS, Event
from agents.exceptions import RunGone
from agents.models import Run, RunEvent

Writes = Callable[[], None]


class _Pending:
    __slots__ = ("data", "frame", "seq", "type")

    def __init__(self, seq: int, type: str, data: dict[str, Any], frame: str):
        self.seq, self.type, self.data, self.frame = seq, type, data, frame


def encode(*, run_id: str, session_id: str, seq: int, event: Event) -> _Pending:
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
            self.pending.append(encode(run_id=self.run_key, session_id=self.session_key, seq=self.assigned, event=item))
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
                self._commit(
                    batch, writes, {**run_update, **increments_sql(increments)}, rows, last=last, closing=closing
                )
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
            insert_rows(rows)
            for write in writes:
                write()
            if batch:
                RunEvent.objects.bulk_create(
                    [
                        RunEvent(run_id=self.run_id, seq=item.seq, type=item.type, data=item.data, frame=item.frame)
                        for item in batch
                    ]
                )


def insert_rows(rows: list[models.Model]) -> None:
    """Insert deferred rows: one INSERT per model, models in the order they first appear (parents first)."""
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for row in rows:
        by_model.setdefault(type(row), []).append(row)
    for model, instances in by_model.items():
        model.objects.bulk_create(instances)


def increments_sql(increments: dict[str, Any]) -> dict[str, Any]:
    """Turn counters to add into UPDATE expressions (``False`` flags are set, not added)."""
    return {name: value if isinstance(value, bool) else F(name) + value for name, value in increments.items()}


_logs: dict[tuple[str, str, int], RunLog] = {}
_logs_lock = threading.Lock()


def log_for(run: Run) -> RunLog:
    key = (str(run.pk), run.owner, run.attempt)
    with _logs_lock:
        log = _logs.get(key)
        if log is None or (log.lost is not None and not isinstance(log.lost, RunGone)):
            fresh = RunLog(run)
            if log is not None:
                fresh.assigned = fresh.committed = log.committed
            log = _logs[key] = fresh
        return log


def forget_log(key: tuple[str, str, int]) -> None:
    with _logs_lock:
        _logs.pop(key, None)
