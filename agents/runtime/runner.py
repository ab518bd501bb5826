"""Starting runs off the request, keeping them alive, and sweeping the dead ones.

- ``run_accept`` is the one sync service ``POST /api/agent/stream`` calls
  (through ``sync_to_async``): validate, check the rate and the token budget,
  store the message and a queued run, count the message, hand the run over.
- A ``Runner`` executes runs. ``ThreadRunner`` (``AGENT_RUNNER=thread``, the
  default) is a bounded thread pool in this process. A distributed worker
  engine (Celery on Redis) implements the same one-method protocol: its
  ``submit`` sends a task whose body is ``execute_job(run_id)``; set
  ``AGENT_RUNNER`` to the class's dotted path.
- ``execute_job`` runs the engine (``agents.engine.planner.execute_run``) in the
  calling thread, settles the user's token budget from the run's real usage,
  and gives the thread's database connections back.
- One maintenance thread per process beats the heartbeat of every run this
  process holds (one UPDATE for all of them) and, now and then, sweeps: runs
  whose heartbeat stopped (a killed process) are finished ``interrupted`` with
  ``error`` and ``done`` events, through ``run_finish`` so a late worker and
  two sweepers cannot both finish a run. The first sweep runs when the
  maintenance thread starts (lazily: on the first request or the first run,
  never in ``AppConfig.ready``, which must not touch the database);
  ``python manage.py sweep_runs`` runs one by hand.
"""

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from agents.engine import planner
from agents.models import Run
from agents.runs import limits, services

logger = logging.getLogger(__name__)

SWEEP_BATCH = 100
INTERRUPTED_MESSAGE = "The worker running this run stopped responding; the run was interrupted."


class Runner(Protocol):
    """Something that executes queued runs somewhere, eventually calling ``execute_job``."""

    def submit(self, run_id: uuid.UUID | str) -> None:
        """Hand a queued run over; return at once."""


# --- The runs this process holds (for heartbeats) ---------------------------

_held_lock = threading.Lock()
_held: set[str] = set()


def _hold(run_id: str) -> None:
    with _held_lock:
        _held.add(run_id)


def _release(run_id: str) -> None:
    with _held_lock:
        _held.discard(run_id)


def held_run_ids() -> list[str]:
    """Return the runs this process has been handed and not finished (queued here or running)."""
    with _held_lock:
        return list(_held)


# --- Executing one run -------------------------------------------------------


def execute_job(run_id: uuid.UUID | str) -> None:
    """Execute one run in this thread, settle its token budget, give back DB connections; never raises."""
    run_id = str(run_id)
    _hold(run_id)
    try:
        planner.execute_run(run_id)
    except Exception:
        logger.exception("Run %s: the engine raised", run_id)
    finally:
        _release(run_id)
        try:
            settle_run_budget(run_id=run_id)
        except Exception:
            logger.exception("Run %s: could not settle the token budget", run_id)
        finally:
            connections.close_all()


def settle_run_budget(*, run_id: str) -> None:
    """Replace a finished run's token reservation with the tokens it really used.

    A run still active here was executed by someone else (this job found it
    no longer queued); its own worker settles it.
    """
    row = Run.objects.filter(pk=run_id).values_list("user_id", "total_tokens", "status").first()
    if row is not None and row[2] not in Run.ACTIVE_STATUSES:
        limits.budget_settle(user_id=row[0], run_id=run_id, tokens_used=row[1])


class ThreadRunner:
    """Execute runs in a bounded thread pool of this process (``AGENT_RUNNER_WORKERS`` threads)."""

    def __init__(self, *, workers: int):
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-run")
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, run_id: uuid.UUID | str) -> None:
        """Queue the run on the pool; its heartbeat starts now, so a long queue is not taken for dead."""
        run_id = str(run_id)
        _hold(run_id)
        with self._idle:
            self._pending += 1
        try:
            self._executor.submit(self._job, run_id)
        except RuntimeError:
            self._done()
            _release(run_id)
            raise

    def _job(self, run_id: str) -> None:
        try:
            execute_job(run_id)
        finally:
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted run has finished; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking runs; with ``wait``, let the submitted ones finish."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)


_runner: Runner | None = None
_runner_lock = threading.Lock()


def get_runner() -> Runner:
    """Return this process's runner, chosen by ``AGENT_RUNNER``, and start the maintenance thread."""
    global _runner
    if _runner is None:
        with _runner_lock:
            if _runner is None:
                _runner = build_runner(settings.AGENT_RUNNER)
    start_maintenance()
    return _runner


def build_runner(choice: str) -> Runner:
    """Return a new runner: ``"thread"`` or the dotted path of a class with the Runner protocol."""
    if choice == "thread":
        return ThreadRunner(workers=settings.AGENT_RUNNER_WORKERS)
    return import_string(choice)()


# --- Admission ---------------------------------------------------------------


def run_accept(*, user: AbstractBaseUser, payload: Any, idempotency_key: str | None = None) -> tuple[Run, bool]:
    """Admit a message: validate, check the limits, store it with a queued run, and hand the run over.

    Returns ``(run, created)``; ``created`` is False when the Idempotency-Key
    joined an earlier run (nothing new is stored, counted or submitted).
    The rate and the budget are checked before anything is stored; nothing is
    stored when a check fails. A retry with an Idempotency-Key is checked
    like a new message (at a full limit it answers 429 too, and joins its run
    once the Retry-After has passed) but never counted twice. Raises
    InvalidInput, RateLimited, BudgetExceeded, NotFound, ActiveRunExists or
    IdempotencyMismatch.
    """
    clean = services.run_validate_request(payload)
    limits.rate_check(user_id=user.pk)
    estimate = limits.estimate_run_tokens(clean["message"])
    reservation = limits.budget_reserve(user_id=user.pk, tokens=estimate)
    try:
        # One transaction around the run and the rate count: when a racing
        # request took the last slot, rate_hit refuses and the run is rolled back.
        with transaction.atomic():
            run, created = services.run_start(
                user=user, idempotency_key=idempotency_key, reserved_tokens=reservation.tokens, **clean
            )
            if created:
                limits.rate_hit(user_id=user.pk)
    except BaseException:
        limits.budget_release(reservation)
        raise
    if not created:
        limits.budget_release(reservation)  # the joined run holds its own
        return run, False
    limits.budget_attach(reservation, run_id=run.pk)
    try:
        get_runner().submit(run.pk)
    except Exception:
        # The run stays queued with no heartbeat; the sweeper finishes it as interrupted.
        logger.exception("Run %s could not be handed to the runner", run.pk)
    return run, True


# --- Heartbeat and sweeper ---------------------------------------------------


def runs_heartbeat(*, run_ids: list[str]) -> int:
    """Record that this process still holds these runs (one UPDATE); return how many were active."""
    if not run_ids:
        return 0
    return Run.objects.filter(pk__in=run_ids, status__in=Run.ACTIVE_STATUSES).update(heartbeat_at=timezone.now())


def runs_sweep(*, timeout: float | None = None) -> list[str]:
    """Finish as interrupted the active runs nobody has beaten the heartbeat of for ``timeout`` seconds.

    A run counts as abandoned when its heartbeat is older than the timeout, or
    when it never had one and was created longer ago than that (queued by a
    process that died before handing it over). Returns the ids swept here.
    """
    timeout = settings.AGENT_HEARTBEAT_TIMEOUT if timeout is None else timeout
    cutoff = timezone.now() - timedelta(seconds=timeout)
    stale = (
        Run.objects.filter(status__in=Run.ACTIVE_STATUSES)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
        .order_by("created_at")[:SWEEP_BATCH]
    )
    swept = []
    for run in stale:
        if not services.run_end(
            run=run, status=Run.Status.INTERRUPTED, error_code="interrupted", error_message=INTERRUPTED_MESSAGE
        ):
            continue  # its worker (or another sweeper) finished it first
        limits.budget_settle(user_id=run.user_id, run_id=str(run.pk), tokens_used=run.total_tokens)
        logger.warning("Run %s swept: no heartbeat for %.0f s", run.pk, timeout)
        swept.append(str(run.pk))
    return swept


class Maintenance(threading.Thread):
    """Beat the heartbeat of the runs this process holds; sweep abandoned runs now and then."""

    def __init__(self) -> None:
        super().__init__(name="agents-maintenance", daemon=True)
        timeout = settings.AGENT_HEARTBEAT_TIMEOUT
        self.beat_interval = min(10.0, max(0.5, timeout / 4))
        self.sweep_interval = max(self.beat_interval, timeout / 2)
        self.stopping = threading.Event()
        self._failing = False

    def run(self) -> None:
        next_sweep = 0.0
        while not self.stopping.is_set():
            try:
                runs_heartbeat(run_ids=held_run_ids())
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_interval
                    runs_sweep()
                self._failing = False
            except Exception:
                # Log the first failure in full, then one line each, until it recovers.
                logger.warning("Heartbeat/sweep failed", exc_info=not self._failing)
                self._failing = True
            finally:
                connections.close_all()
            self.stopping.wait(self.beat_interval)


_maintenance: Maintenance | None = None


def start_maintenance() -> None:
    """Start this process's heartbeat and sweeper thread, once."""
    global _maintenance
    if _maintenance is not None and _maintenance.is_alive():
        return
    with _runner_lock:
        if _maintenance is None or not _maintenance.is_alive():
            _maintenance = Maintenance()
            _maintenance.start()


def stop_maintenance() -> None:
    """Stop the heartbeat and sweeper thread (tests, shutdown)."""
    global _maintenance
    with _runner_lock:
        thread, _maintenance = _maintenance, None
    if thread is not None:
        thread.stopping.set()
        thread.join(timeout=10)
