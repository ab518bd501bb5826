"""Who executes runs: a thread pool in this process, or Celery workers on any machine.

A runner only hands a run id over; it never decides who runs it. Whoever
executes the id calls ``worker.execute_run``, which claims the run in the
database (one conditional UPDATE) before anything happens, so a run handed
over twice, or to two places, still runs once.

- ``ThreadRunner`` (``AGENT_RUNNER=thread``, the embedded default): a bounded
  pool of ``AGENT_RUNNER_WORKERS`` threads in this process.
- ``CeleryRunner`` (``AGENT_RUNNER=celery``): sends the task
  ``agents.execute_run(run_id)`` after the current transaction commits; the
  processes started by ``make worker`` execute it. The message carries the id
  only; acks are early and a lost or repeated message does no harm (the
  sweeper hands a run over again when nobody claimed it within a lease).
- Any other value is the dotted path of a class with ``submit(run_id)``.
"""

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class Runner(Protocol):
    """Something that executes queued runs somewhere, eventually calling ``worker.execute_run``."""

    executes_here: bool  # True when runs submitted here execute in this process

    def submit(self, run_id: uuid.UUID | str) -> None:
        """Hand a queued run over; return at once."""


class ThreadRunner:
    """Execute runs in a bounded thread pool of this process; an id already waiting or running here is skipped."""

    executes_here = True

    def __init__(self, *, workers: int):
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-run")
        self._here: set[str] = set()
        self._idle = threading.Condition()

    def submit(self, run_id: uuid.UUID | str) -> None:
        """Queue the run on the pool (once: a run already waiting or running here is not queued again)."""
        run_id = str(run_id)
        with self._idle:
            if run_id in self._here:
                return
            self._here.add(run_id)
        try:
            self._executor.submit(self._job, run_id)
        except RuntimeError:  # the pool was shut down: the run stays queued for the next process
            self._done(run_id)
            raise

    def _job(self, run_id: str) -> None:
        from agents.runtime import worker

        try:
            worker.execute_run(run_id)
        finally:
            self._done(run_id)

    def _done(self, run_id: str) -> None:
        with self._idle:
            self._here.discard(run_id)
            self._idle.notify_all()

    def pending(self) -> int:
        """Return how many runs wait or run in this pool."""
        with self._idle:
            return len(self._here)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted run has finished or was handed back; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._here, timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking runs; with ``wait``, let the submitted ones finish."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)


class CeleryRunner:
    """Send "run this id" to the Celery workers, once the transaction that stored the run has committed."""

    executes_here = False

    def submit(self, run_id: uuid.UUID | str, *, countdown: float | None = None) -> None:
        from agents.runtime.tasks import execute_run_task

        run_id = str(run_id)
        transaction.on_commit(lambda: execute_run_task.apply_async((run_id,), countdown=countdown))


_runner: Runner | None = None
_runner_lock = threading.Lock()


def get_runner() -> Runner:
    """Return this process's runner, chosen by ``AGENT_RUNNER``."""
    global _runner
    if _runner is None:
        with _runner_lock:
            if _runner is None:
                _runner = build_runner(settings.AGENT_RUNNER)
    return _runner


def set_runner(runner: Runner | None) -> Runner | None:
    """Replace this process's runner (None: build it again from settings); return the old one."""
    global _runner
    with _runner_lock:
        previous, _runner = _runner, runner
    return previous


def build_runner(choice: str) -> Runner:
    """Return a new runner: ``"thread"``, ``"celery"`` or the dotted path of a class with ``submit``."""
    if choice == "thread":
        return ThreadRunner(workers=settings.AGENT_RUNNER_WORKERS)
    if choice == "celery":
        return CeleryRunner()
    return import_string(choice)()


def submit(run_id: uuid.UUID | str) -> None:
    """Hand a run to this process's runner; a failure is logged (the sweeper hands it over again)."""
    try:
        get_runner().submit(run_id)
    except Exception:
        logger.exception("Run %s could not be handed to the runner; the sweeper will try again", run_id)
