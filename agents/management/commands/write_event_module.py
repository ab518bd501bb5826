"""Write the chat UI's event module from the event catalogue: ``python manage.py write_event_module``.

``static/chat/js/events.js`` is generated (and checked in, so the UI needs no
build step); ``--check`` exits 1 when the file and the catalogue disagree.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agents.events import exports
from agents.models import Run


def module_text() -> str:
    return exports.js_module(
        active_statuses=list(Run.ACTIVE_STATUSES), run_statuses=[value for value, _ in Run.Status.choices]
    )


class Command(BaseCommand):
    help = "Write static/chat/js/events.js from agents/events/catalogue.py (or --check that it is current)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Only check; exit 1 when the file is stale.")

    def handle(self, *args, check: bool = False, **options):
        path = Path(settings.BASE_DIR) / exports.JS_MODULE_PATH
        text = module_text()
        if check:
            if not path.exists() or path.read_text() != text:
                raise CommandError(f"{exports.JS_MODULE_PATH} is stale: run `python manage.py write_event_module`.")
            self.stdout.write(f"{exports.JS_MODULE_PATH} is current.")
            return
        path.write_text(text)
        self.stdout.write(f"Wrote {exports.JS_MODULE_PATH}.")
