"""Hand over again the runs nobody is executing; fail those out of attempts."""

from django.core.management.base import BaseCommand

from agents.runtime import sweeper


class Command(BaseCommand):
    help = (
        "Queue again the running runs whose owner was lost (lease older than AGENT_LEASE_SECONDS, or a gone "
        "process of this host) and submit them; fail those past AGENT_MAX_ATTEMPTS (worker_lost); submit again "
        "the queued runs nobody claimed (--all: every queued run older than this command). "
        "Safe to run while workers are alive and from "
        "several hosts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", dest="all_queued", help="Submit every queued run now.")

    def handle(self, *args, all_queued=False, **options):
        done = sweeper.sweep(at_start=all_queued)
        for action, run_ids in done.items():
            for run_id in run_ids:
                self.stdout.write(f"{action} {run_id}")
        total = sum(len(run_ids) for run_ids in done.values())
        self.stdout.write(self.style.SUCCESS(f"Swept {total} run(s)."))
