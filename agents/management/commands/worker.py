"""Start a Celery worker that executes runs (``make worker``): ``AGENT_RUNNER=celery`` sends them here.

    python manage.py worker [--concurrency N] [--loglevel INFO]

Threads, not processes: a run spends its time waiting on models, and one
process holds many runs (``AGENT_WORKER_CONCURRENCY``), as the embedded
runner does. SIGTERM drains: no new run is taken, held runs go on for
``AGENT_DRAIN_SECONDS``, then are handed back to be resumed elsewhere.
"""

import os
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Start a Celery worker executing runs (threads; drains on SIGTERM)."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None, help="Runs at once (AGENT_WORKER_CONCURRENCY).")
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, concurrency=None, loglevel="INFO", **options):
        if not settings.CELERY_BROKER_URL:
            raise CommandError("No broker: set CELERY_BROKER_URL or REDIS_URL (and AGENT_RUNNER=celery on the web)")
        concurrency = concurrency or settings.AGENT_WORKER_CONCURRENCY
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1")
        from agents_platform.celery import app

        app.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency}",
                f"--queues={settings.CELERY_TASK_DEFAULT_QUEUE}",
                f"--loglevel={loglevel}",
                f"--hostname=agents-{socket.gethostname()}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
