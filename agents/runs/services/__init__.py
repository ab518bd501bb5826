"""Writes of the engine's models, shared by views, admin, the engine and commands.

Keyword-only and typed, named ``<entity>_<action>``. Check, then do: each service validates and
locks in one step, then changes state; events go out through ``emit()``.

One module per part of a run's life:

- ``start``: a user's message and the queued run that answers it (``run_create``);
- ``ownership``: claims, leases, releases and requeues (``run_claim``);
- ``records``: the run's parts as it goes (agents, plan, steps, executions, usage);
- ``ending``: how a run ends (``run_finish``, ``run_cancel``);
- ``workers`` and ``memories``: the worker registry, the user's memories.
"""

from agents.runs.services.ending import run_cancel, run_finish, runs_lock_for_deletion, runs_stop_for_deletion
from agents.runs.services.memories import MEMORY_MAX_CHARS, memory_create, memory_delete
from agents.runs.services.ownership import (
    lease_end,
    run_claim,
    run_mark_submitted,
    run_release,
    run_requeue_lost,
    runs_renew_leases,
    session_event,
)
from agents.runs.services.records import (
    agent_create,
    agent_message_create,
    execution_finish,
    execution_start,
    plan_create,
    run_add_usage,
    run_set_route,
    run_set_trace_id,
    step_finish,
    step_start,
)
from agents.runs.services.start import (
    CONTEXT_TYPE_MAX_CHARS,
    ENTITY_ID_MAX_CHARS,
    IDEMPOTENCY_KEY_MAX_CHARS,
    IDEMPOTENCY_WINDOW,
    request_fingerprint,
    run_create,
)
from agents.runs.services.workers import worker_beat, worker_register, worker_unregister

__all__ = [
    "CONTEXT_TYPE_MAX_CHARS",
    "ENTITY_ID_MAX_CHARS",
    "IDEMPOTENCY_KEY_MAX_CHARS",
    "IDEMPOTENCY_WINDOW",
    "MEMORY_MAX_CHARS",
    "agent_create",
    "agent_message_create",
    "execution_finish",
    "execution_start",
    "lease_end",
    "memory_create",
    "memory_delete",
    "plan_create",
    "request_fingerprint",
    "run_add_usage",
    "run_cancel",
    "run_claim",
    "run_create",
    "run_finish",
    "run_mark_submitted",
    "run_release",
    "run_requeue_lost",
    "run_set_route",
    "run_set_trace_id",
    "runs_lock_for_deletion",
    "runs_renew_leases",
    "runs_stop_for_deletion",
    "session_event",
    "step_finish",
    "step_start",
    "worker_beat",
    "worker_register",
    "worker_unregister",
]
