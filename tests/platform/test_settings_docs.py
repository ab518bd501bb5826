"""docs/settings.md documents every setting an operator sets, and the pointers to it lead somewhere."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "agents_platform" / "settings.py"
ENV_READERS = ROOT / "agents_platform" / "env.py"
DOCS = ROOT / "docs" / "settings.md"


def sections() -> set[str]:
    """Return the variable names that have a section of their own (a ``### `NAME``` heading)."""
    return set(re.findall(r"^### `([A-Z0-9_]+)`$", DOCS.read_text(), re.MULTILINE))


def anchors() -> set[str]:
    """Return the anchors GitHub gives the headings of docs/settings.md."""
    headings = re.findall(r"^#{1,6} (.+)$", DOCS.read_text(), re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_agent_setting_has_a_section():
    defined = set(re.findall(r"^(AGENT_[A-Z0-9_]+)\s*=", SETTINGS.read_text(), re.MULTILINE))
    assert len(defined) > 20, "the pattern found the AGENT_* settings"
    assert defined - sections() == set()


def test_every_variable_settings_reads_has_a_section():
    source = SETTINGS.read_text() + ENV_READERS.read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', source))
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "OTEL_EXPORTER_OTLP_PROTOCOL"} <= read
    assert read - sections() == set()


def test_the_pointers_in_settings_py_name_headings_of_the_docs():
    pointers = set(re.findall(r"docs/settings\.md#([a-z0-9_-]+)", SETTINGS.read_text()))
    assert pointers, "settings.py points to docs/settings.md"
    assert pointers - anchors() == set()
