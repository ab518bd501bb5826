"""Finish as interrupted the runs whose worker stopped beating their heartbeat."""

from django.core.management.base import BaseCommand, CommandError

from agents.runtime.runner import runs_sweep


class Command(BaseCommand):
    help = (
        "Mark queued/running runs whose heartbeat is older than AGENT_HEARTBEAT_TIMEOUT (or --timeout) as "
        "interrupted, with error and done events. Safe to run while workers are alive and from several hosts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="Seconds without a heartbeat (default: the setting).",
        )

    def handle(self, *args, timeout=None, **options):
        if timeout is not None and timeout <= 0:
            raise CommandError("--timeout must be greater than 0")
        swept = runs_sweep(timeout=timeout)
        for run_id in swept:
            self.stdout.write(f"interrupted {run_id}")
        self.stdout.write(self.style.SUCCESS(f"Swept {len(swept)} run(s)."))
