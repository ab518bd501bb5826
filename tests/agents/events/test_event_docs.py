"""docs/events.md is generated from the event catalogue: every event type and field, with the prose around it kept."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.events import catalogue, docs
from agents.management.commands.write_event_docs import docs_text

DOCS = Path(settings.BASE_DIR) / docs.DOCS_PATH


def test_the_checked_in_event_docs_are_generated_from_the_catalogue():
    current = DOCS.read_text()
    assert current == docs_text(current), "run `python manage.py write_event_docs`"
    call_command("write_event_docs", "--check")


def test_every_event_type_and_field_is_documented():
    text = DOCS.read_text()
    for name, cls in catalogue.EVENTS.items():
        assert f"### `{name}`" in text
        for field in cls.model_fields:
            assert f"| `{field}` |" in text, f"{name}.{field}"


def test_only_the_text_between_the_markers_is_generated():
    current = f"# Title\n\nProse before.\n\n{docs.BEGIN}\nold\n{docs.END}\n\nProse after.\n"
    written = docs.document(current, "new\n")
    assert written == f"# Title\n\nProse before.\n\n{docs.BEGIN}\n\nnew\n\n{docs.END}\n\nProse after.\n"
    assert docs.document(written, "new\n") == written


def test_a_file_without_markers_is_refused(tmp_path, settings):
    (tmp_path / "docs").mkdir()
    (tmp_path / docs.DOCS_PATH).write_text("# Events\n")
    settings.BASE_DIR = tmp_path
    with pytest.raises(CommandError, match="markers"):
        call_command("write_event_docs")
