"""The Celery side of the runtime: the one task, and the worker's start, drain and stop.

The task's body is ``worker.execute_run(run_id)``: the database lease decides
who runs the id, so the broker may lose or repeat the message without harm.
Acks are early (Celery's default): a worker killed mid-run does not get the
message redelivered by the broker; the sweeper finds the run by its expired
lease instead, whatever the broker's visibility timeout.

Signals: when the worker is ready it starts the maintenance thread (lease
renewal, its row in WorkerProcess, sweeping); on SIGTERM (Celery's warm
shutdown: it stops consuming and waits for running tasks) a thread drains
this worker's runs; at shutdown maintenance stops and the row is removed.
The MCP servers' tools are listed when the worker is ready; their sessions
close at shutdown.
"""

import logging
import threading

from celery import signals

from agents.models import WorkerProcess
from agents.runtime import worker
from agents.tools import mcp as mcp_tools
from agents_platform.celery import app

logger = logging.getLogger(__name__)


@app.task(name="agents.execute_run", ignore_result=True, acks_late=False)
def execute_run_task(run_id: str) -> None:
    """Execute one run (claim, drive, release): the whole body of every message."""
    worker.execute_run(run_id)


@signals.worker_ready.connect
def _on_worker_ready(**kwargs) -> None:
    worker.ensure_maintenance(kind=WorkerProcess.Kind.CELERY)
    mcp_tools.ensure_started()
    logger.info("Worker %s ready", worker.owner_name())


@signals.worker_shutting_down.connect
def _on_worker_shutting_down(**kwargs) -> None:
    # Celery calls this from its signal handler: drain in a thread, never block here.
    threading.Thread(target=worker.drain, name="agents-drain", daemon=True).start()


@signals.worker_shutdown.connect
def _on_worker_shutdown(**kwargs) -> None:
    worker.stop_maintenance()
    mcp_tools.stop()
