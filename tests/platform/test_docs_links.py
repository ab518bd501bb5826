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
