"""Every pointer into docs/ leads somewhere: links between the pages, and ``docs/<page>.md#anchor`` in the code."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# What the code and the README point to: docs/api.md, docs/settings.md#agent_rate_limit, …
CODE_POINTER = re.compile(r"docs/([a-z_-]+\.md)(?:#([a-z0-9_-]+))?")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """Return the anchors GitHub gives the page's headings (code blocks skipped)."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}


def check(page_name: str, anchor: str | None, where: str) -> None:
    page = DOCS / page_name
    assert page.exists(), f"{where}: docs/{page_name} does not exist"
    if anchor:
        assert anchor in anchors(page), f"{where}: docs/{page_name} has no heading #{anchor}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda page: page.name)
def test_links_between_the_pages_lead_somewhere(page):
    for target in MARKDOWN_LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "<")):
            continue
        name, _, anchor = target.partition("#")
        check(name or page.name, anchor or None, page.name)


def sources() -> list[Path]:
    """Return the project's own code, tests, templates and README (not the docs, not vendored files)."""
    files = [ROOT / "README.md", ROOT / ".importlinter"]
    for folder in ("agents", "agents_platform", "sessions", "migrations", "templates", "tests", "static/chat"):
        files += [path for path in (ROOT / folder).rglob("*") if path.suffix in {".py", ".js", ".mjs", ".html"}]
    return files


def test_pointers_in_the_code_lead_somewhere():
    found = 0
    for path in sources():
        for page_name, anchor in CODE_POINTER.findall(path.read_text(errors="replace")):
            check(page_name, anchor or None, str(path.relative_to(ROOT)))
            found += 1
    assert found > 10, "the code points to docs/"


def concept_table() -> list[tuple[str, list[str]]]:
    """Return the README's concept → file rows: each concept with the paths it names."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Where each concept lives", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    header = ("| concept", "| ---")
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith(header)]
    table = []
    for row in rows:
        concept, files = row.strip("| ").split(" | ", 1)
        paths = [path for path in re.findall(r"`([^`]+)`", files) if "/" in path]
        table.append((concept, paths))
    return table


def test_every_concept_of_the_readme_names_files_that_exist():
    table = concept_table()
    assert len(table) >= 38, "the README's concept table was not found whole"
    for concept, paths in table:
        assert paths, f"{concept!r} names no file"
        for path in paths:
            assert (ROOT / path).exists(), f"{concept!r}: {path} does not exist"


def test_every_module_of_the_engine_is_named_by_a_concept_or_its_folder():
    named = {path for _, paths in concept_table() for path in paths}
    packages = {path.rstrip("/") for path in named if path.endswith("/")}
    # Plumbing every Django app and package has.
    plumbing = {"__init__.py", "apps.py", "urls.py", "signals.py", "receivers.py", "checks.py"}
    unnamed = []
    for module in sorted((ROOT / "agents").rglob("*.py")):
        relative = module.relative_to(ROOT).as_posix()
        if "/migrations/" in relative or "/management/" in relative or module.name in plumbing:
            continue
        if relative in named or any(relative.startswith(f"{package}/") for package in packages):
            continue
        unnamed.append(relative)
    assert not unnamed, f"modules no concept of the README names: {unnamed}"
