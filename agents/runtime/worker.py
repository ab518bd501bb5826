"""The owner's side of a run: claim it, hold its lease, drive the engine, hand it back when draining.

``execute_run(run_id)`` is the one way into the engine for the web view (via
admission and a runner), ``manage.py chat``, Celery workers, the tests and
the bench:

1. claim the run for this process (``runs.services.run_claim``: one
   conditional UPDATE; nothing happens when another owner has it or it ended);
2. hold it: this process's maintenance thread renews the leases of all the
   runs it holds in one UPDATE every ``AGENT_LEASE_SECONDS / 3``;
3. drive it with ``engine.planner.drive_run``, which resumes where an earlier
   attempt stopped;
4. when this process drains, hand it back (``run_release``, reason
   ``drained``) and submit it again so another owner resumes it at once;
   when the run waits for approvals, the engine has let it go already
   (status ``waiting``): a decision submits it again;
5. settle the user's token budget from the finished run's real usage, and
   release what it still holds of the daily dollar budget.

With tracing on (``agents.telemetry.tracing``), each attempt is one
``invoke_workflow`` span around the drive; the run's trace id is stored on
the Run, and a resumed attempt joins that trace.

Draining (SIGTERM on a worker, shutdown of the embedded server): no new run
is claimed; held runs go on for ``AGENT_DRAIN_SECONDS``; then each is asked
back (its agents stop at their next check) and released.

The owner name is ``host:pid:nonce``: unique per process, and it lets a
sweeper on the same host see at once that an owner's process is gone.
"""

import logging
import os
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connections

from agents import events
from agents.engine import planner
from agents.exceptions import RunGone, RunReleased, RunWaiting
from agents.models import Run, WorkerProcess
from agents.runs import costs, limits, selectors, services
from agents.runs.connections import release_thread_connections
from agents.runtime import runners, sweeper
from agents.telemetry import tracing
from agents.tools import mcp as mcp_tools

logger = logging.getLogger(__name__)

_identity_lock = threading.Lock()
_owner: tuple[int, str] | None = None


def owner_name() -> str:
    """Return this process's owner name, ``host:pid:nonce`` (made anew in a forked child)."""
    global _owner
    pid = os.getpid()
    if _owner is None or _owner[0] != pid:
        with _identity_lock:
            if _owner is None or _owner[0] != pid:
                _owner = (pid, f"{socket.gethostname()}:{pid}:{secrets.token_hex(3)}")
    return _owner[1]


# --- The runs this process holds ---------------------------------------------


@dataclass
class HeldRun:
    run: Run
    release: threading.Event = field(default_factory=threading.Event)


_held_lock = threading.Condition()
_held: dict[str, HeldRun] = {}
_draining = threading.Event()


def held_run_ids() -> list[str]:
    """Return the ids of the runs this process holds now."""
    with _held_lock:
        return list(_held)


def is_draining() -> bool:
    return _draining.is_set()


def _hold(run: Run) -> HeldRun:
    held = HeldRun(run)
    with _held_lock:
        _held[str(run.pk)] = held
    if _draining.is_set():
        held.release.set()
    return held


def _unhold(run_id: str) -> None:
    with _held_lock:
        _held.pop(run_id, None)
        _held_lock.notify_all()


# --- Executing one run -------------------------------------------------------


def execute_run(run_id: uuid.UUID | str) -> None:
    """Claim the run, drive it to its end (or resume it), or hand it back when draining; never raises."""
    run_id = str(run_id)
    if _draining.is_set():
        _hand_on(run_id)
        return
    close_old_connections()
    mcp_tools.ensure_started()  # the first run of a process waits for the MCP servers' tools
    try:
        run = services.run_claim(run_id=run_id, owner=owner_name())
        if run is None:
            logger.debug("Run %s: not claimable here (taken, or ended)", run_id)
            return
        ensure_maintenance()
        held = _hold(run)
        _start_trace(run)
        outcome = ""
        try:
            planner.drive_run(run, should_release=held.release.is_set)
        except RunWaiting:
            outcome = "waiting"
            logger.info("Run %s waits for approval; let go after attempt %d", run_id, run.attempt)
        except RunReleased:
            outcome = "released"
            if services.run_release(run=run, reason="drained"):
                logger.info("Run %s handed back (draining) after attempt %d", run_id, run.attempt)
                _hand_on(run_id)
        except RunGone:
            outcome = "gone"
            logger.info("Run %s: deleted, finished or taken over elsewhere; this attempt stopped", run_id)
        finally:
            _unhold(run_id)
            _end_trace(run_id, outcome)
            events.forget(run)
        settle_run_budget(run_id=run_id, run=run)
    except Exception:
        logger.exception("Run %s: the runtime failed", run_id)
    finally:
        release_thread_connections()  # a pool slot goes back; an SQLite file handle stays with the thread


def _hand_on(run_id: str) -> None:
    """Pass a run this draining process will not execute to another owner (or leave it for the next process)."""
    runner = runners.get_runner()
    if not runner.executes_here:
        runners.submit(run_id)


def settle_run_budget(*, run_id: str, run: Run | None = None) -> None:
    """Replace a finished run's token reservation with the tokens it really used (once; later calls do nothing).

    Given the run this process just finished (its final status in memory), nothing is read back.
    """
    try:
        if run is not None and run.status in Run.FINAL_STATUSES:
            usage = (run.user_id, run.total_tokens)
        else:
            usage = selectors.run_final_usage(run_id=run_id)
        if usage is not None:
            limits.budget_settle(user_id=usage[0], run_id=run_id, tokens_used=usage[1])
            costs.run_settle(run_id=run_id)
    except Exception:
        logger.exception("Run %s: could not settle the token budget", run_id)


def _start_trace(run: Run) -> None:
    """Open the attempt's span; the first one stores the run's trace id."""
    try:
        trace_id = tracing.start_run(
            run_id=str(run.pk), session_id=str(run.session_id), attempt=run.attempt, trace_id=run.trace_id
        )
        if trace_id and trace_id != run.trace_id:
            services.run_set_trace_id(run=run, trace_id=trace_id)
    except Exception:
        logger.warning("Run %s: could not start its trace", run.pk, exc_info=True)


def _end_trace(run_id: str, outcome: str) -> None:
    """Close the attempt's span with the run's status, route, usage and cost."""
    if not tracing.enabled():
        return
    try:
        final = selectors.run_trace_summary(run_id=run_id)
        attributes = {"agents.run.outcome": outcome or None}
        error = ""
        if final is not None:
            attributes.update(final)
            error = final.get("agents.run.error_code") or ""
        tracing.end_run(run_id=run_id, attributes=attributes, error=error)
    except Exception:
        logger.warning("Run %s: could not end its trace", run_id, exc_info=True)


# --- Draining ----------------------------------------------------------------


def drain(*, seconds: float | None = None, handback_timeout: float = 15.0) -> bool:
    """Take no new run, let the held ones go on for ``seconds``, then hand the rest back; True when none is left.

    Blocks the caller; Celery's shutdown signal calls it from a thread of its own.
    """
    seconds = settings.AGENT_DRAIN_SECONDS if seconds is None else seconds
    _draining.set()
    logger.info("Draining: %d run(s) held, %.0f s to finish", len(held_run_ids()), seconds)
    with _held_lock:
        if _held_lock.wait_for(lambda: not _held, timeout=seconds):
            return True
        for held in _held.values():
            held.release.set()
        left = not _held_lock.wait_for(lambda: not _held, timeout=handback_timeout)
    if left:
        logger.warning("Draining: %d run(s) did not stop in time; their leases will expire", len(held_run_ids()))
    return not left


def undrain() -> None:
    """Take runs again (tests; a drain that was called off)."""
    _draining.clear()


# --- Maintenance: lease renewal, worker beat, sweeping -----------------------


class Maintenance(threading.Thread):
    """Renew this process's leases (one UPDATE a beat), record that it lives, sweep lost runs now and then."""

    def __init__(self, *, kind: str | None) -> None:
        super().__init__(name="agents-maintenance", daemon=True)
        lease = settings.AGENT_LEASE_SECONDS
        self.kind = kind  # None: this process executes no run (a web process in front of Celery workers)
        self.beat_interval = max(0.05, lease / 3)
        self.sweep_interval = max(self.beat_interval, min(10.0, lease / 2))
        self.stopping = threading.Event()
        self._failing = False
        self.sweeps = 0

    def run(self) -> None:
        next_sweep = 0.0
        first = True
        while not self.stopping.is_set():
            try:
                if first and self.kind is not None:
                    services.worker_register(name=owner_name(), kind=self.kind, concurrency=_concurrency(self.kind))
                lost = services.runs_renew_leases(owner=owner_name(), run_ids=held_run_ids())
                for run_id in lost:
                    logger.warning("Run %s: lease lost (taken over or ended elsewhere)", run_id)
                if self.kind is not None:
                    services.worker_beat(name=owner_name(), draining=_draining.is_set())
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_interval
                    sweeper.sweep(at_start=first)
                    self.sweeps += 1
                first = False
                self._failing = False
            except Exception:
                # Log the first failure in full, then one line each, until it recovers.
                logger.warning("Lease renewal or sweep failed", exc_info=not self._failing)
                self._failing = True
            finally:
                connections.close_all()
            self.stopping.wait(self.beat_interval)
        if self.kind is not None:
            try:
                services.worker_unregister(name=owner_name())
            except Exception:
                logger.warning("Could not unregister worker %s", owner_name(), exc_info=True)
            finally:
                connections.close_all()


def _concurrency(kind: str) -> int:
    return settings.AGENT_WORKER_CONCURRENCY if kind == WorkerProcess.Kind.CELERY else settings.AGENT_RUNNER_WORKERS


_maintenance: Maintenance | None = None
_maintenance_lock = threading.Lock()


def ensure_maintenance(kind: str | None = None) -> Maintenance:
    """Start this process's maintenance thread once (lazily: never in AppConfig.ready, which must not query)."""
    global _maintenance
    if _maintenance is not None and _maintenance.is_alive():
        return _maintenance
    with _maintenance_lock:
        if _maintenance is None or not _maintenance.is_alive():
            if kind is None and runners.get_runner().executes_here:
                kind = WorkerProcess.Kind.THREAD
            _maintenance = Maintenance(kind=kind)
            _maintenance.start()
    return _maintenance


def stop_maintenance() -> None:
    """Stop the maintenance thread (tests, shutdown)."""
    global _maintenance
    with _maintenance_lock:
        thread, _maintenance = _maintenance, None
    if thread is not None:
        thread.stopping.set()
        thread.join(timeout=10)


def shutdown(*, drain_seconds: float | None = None) -> None:
    """Drain, then stop maintenance and the MCP sessions: what a process does when it is told to stop."""
    drain(seconds=drain_seconds)
    stop_maintenance()
    mcp_tools.stop()
