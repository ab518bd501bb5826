"""Write the event reference of docs/events.md from the event catalogue: ``python manage.py write_event_docs``.

Only the text between the file's two markers is generated; the prose around it
is kept. ``--check`` exits 1 when the file and the catalogue disagree.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.events import docs
from agents.models import Run


def docs_text(current: str) -> str:
    """Return docs/events.md as it should be: ``current`` with its generated part written again."""
    generated = docs.reference(
        active_statuses=list(Run.ACTIVE_STATUSES), run_statuses=[value for value, _ in Run.Status.choices]
    )
    return docs.document(current, generated)


class Command(BaseCommand):
    help = "Write the event reference of docs/events.md from agents/events/catalogue.py (or --check it)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Only check; exit 1 when the file is stale.")

    def handle(self, *args, check: bool = False, **options):
        path = Path(settings.BASE_DIR) / docs.DOCS_PATH
        current = path.read_text() if path.exists() else ""
        try:
            text = docs_text(current)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if check:
            if text != current:
                raise CommandError(f"{docs.DOCS_PATH} is stale: run `python manage.py write_event_docs`.")
            self.stdout.write(f"{docs.DOCS_PATH} is current.")
            return
        path.write_text(text)
        self.stdout.write(f"Wrote {docs.DOCS_PATH}.")
