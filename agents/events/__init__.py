"""The run's event stream: the types of CONTRACT.md section 4 and ``emit()``.

``emit()`` is the only way an event comes to be. It stores the event with
the run's next ``seq`` (locking the run row, so parallel executors never
share or skip a number), encoded once as the one line of JSON every stream
sends, and only after the commit hands that frame to the bus: live streams
send it from memory, replays send the stored text. The database is the
source of truth; a stream that misses a frame reads it from there.
"""

import json
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from agents.events import bus
from agents.exceptions import RunGone
from agents.models import Run, RunEvent

SESSION = "session"
ANALYSIS = "analysis"
PLAN_CREATED = "plan_created"
STEP_START = "step_start"
EXECUTOR_SPAWNED = "executor_spawned"
TEXT = "text"
TOOL_CALL = "tool_call"
TOOL_RESULT = "tool_result"
EXECUTOR_RESULT = "executor_result"
STEP_COMPLETE = "step_complete"
RETRY = "retry"
RESUMED = "resumed"
APPROVAL_REQUIRED = "approval_required"
APPROVAL_RESULT = "approval_result"
BUDGET_WARNING = "budget_warning"
ERROR = "error"
DONE = "done"

TYPES = frozenset(
    {
        SESSION,
        ANALYSIS,
        PLAN_CREATED,
        STEP_START,
        EXECUTOR_SPAWNED,
        TEXT,
        TOOL_CALL,
        TOOL_RESULT,
        EXECUTOR_RESULT,
        STEP_COMPLETE,
        RETRY,
        RESUMED,
        APPROVAL_REQUIRED,
        APPROVAL_RESULT,
        BUDGET_WARNING,
        ERROR,
        DONE,
    }
)
RESERVED_FIELDS = frozenset({"type", "run_id", "session_id", "seq", "ts"})


def emit(run: Run | uuid.UUID | str, type: str, *, closing: bool = False, **fields: Any) -> RunEvent:
    """Store the run's next event and, after commit, wake its listeners.

    Once a run has finished, only its closing events (``error`` and ``done``
    from ``run_finish``, ``closing=True``) may be stored: agent code still
    going after a sweeper ended its run gets RunGone and stops, so ``done``
    stays last. Given a claimed Run (``owner`` set), the event is fenced by
    the lease: an owner whose run was taken over by another gets RunGone and
    writes nothing, so two attempts never interleave their events.
    """
    if type not in TYPES:
        raise ValueError(f"Unknown event type {type!r}")
    clash = RESERVED_FIELDS.intersection(fields)
    if clash:
        raise ValueError(f"Event fields may not override {sorted(clash)}")
    run_id = run.pk if isinstance(run, Run) else run
    with transaction.atomic():
        try:
            locked = (
                Run.objects.select_for_update()
                .only("id", "session_id", "status", "last_event_seq", "owner", "attempt")
                .get(pk=run_id)
            )
        except Run.DoesNotExist:
            raise RunGone(f"Run {run_id} no longer exists") from None
        if not closing:
            if locked.status not in Run.ACTIVE_STATUSES:
                raise RunGone(f"Run {run_id} already finished ({locked.status})")
            if isinstance(run, Run) and run.owner and (locked.owner, locked.attempt) != (run.owner, run.attempt):
                raise RunGone(f"Run {run_id} is no longer held by {run.owner} (attempt {run.attempt})")
        seq = locked.last_event_seq + 1
        data = {
            "type": type,
            "run_id": str(locked.pk),
            "session_id": str(locked.session_id),
            "seq": seq,
            "ts": timezone.now().isoformat().replace("+00:00", "Z"),
            **fields,
        }
        # ASCII-escaped: model text can never break a line, forge a frame or an id.
        frame = json.dumps(data, separators=(",", ":"), cls=DjangoJSONEncoder)
        event = RunEvent.objects.create(run_id=locked.pk, seq=seq, type=type, data=data, frame=frame)
        Run.objects.filter(pk=locked.pk).update(last_event_seq=seq)
        transaction.on_commit(lambda: bus.publish(str(locked.pk), seq, frame=(type, frame)))
    if isinstance(run, Run):
        run.last_event_seq = seq
    return event
