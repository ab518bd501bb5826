"""Fixtures of the browser tests: the system Chromium driven by playwright's sync API.

Never ``playwright install``: the tests use Debian's ``/usr/bin/chromium``.
Without it they skip with how to install it, except under ``CI``, where they
fail. Playwright's sync API keeps an asyncio loop on the test's thread, which
makes Django take every ORM call of the test (fixtures included) for a call
from async code; ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set while these tests run
(and only then) so the tests can create users and check the database. It is
process-wide, so the live server's safety check is off during them too; the
API and streaming tests keep it on.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "pw-for-tests-123"  # tests/conftest.py's make_user
TIMEOUT_MS = 15_000


def _require_chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    message = f"{CHROMIUM} is missing; install it to run the browser tests: apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def _allow_orm_beside_playwright() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(_allow_orm_beside_playwright):
    """Launch the system Chromium once for the module."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Browser:
    """One browser context on the live server: a page, its console errors, and small helpers."""

    def __init__(self, browser, base_url: str, *, viewport: dict[str, int], bypass_csp: bool = True):
        self.base_url = base_url
        self.context = browser.new_context(viewport=viewport, base_url=base_url, bypass_csp=bypass_csp)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page = self.new_page()

    def new_page(self):
        """Open a tab in this context (same cookies and session storage origin), collecting its errors."""
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", lambda message: message.type == "error" and self.errors.append(f"console: {message.text}"))
        return page

    def login(self, username: str, password: str = PASSWORD) -> None:
        """Sign in through the real login form, as a person would."""
        self.page.goto("/")
        assert "/accounts/login/" in self.page.url, "the chat must ask for a login first"
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("#app[data-ready]")

    def screenshot(self, name: str, page=None) -> Path:
        """Save a screenshot of the page (or another tab) under test-artifacts/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        (page or self.page).screenshot(path=str(path))
        return path

    def screenshot_at_widths(self, name: str) -> None:
        """Save the page at desktop (1280x800) and phone (390x844) width; at each, nothing may stick out sideways.

        The viewport is put back afterwards. Wide content (tables, code) scrolls in its own box, never the page.
        """
        before = self.page.viewport_size
        for label, size in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
            self.page.set_viewport_size(size)
            self.page.wait_for_function(f"window.innerWidth === {size['width']}")
            overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} at {label} width: the page is {overflow} px wider than the screen"
            self.screenshot(f"{name}-{label}")
        self.page.set_viewport_size(before)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_browser(browser, asgi_live_server):
    """Return a function that opens a browser context on the live server (desktop size by default)."""
    opened: list[Browser] = []

    def open_(*, width: int = 1280, height: int = 820, bypass_csp: bool = True) -> Browser:
        # Playwright's wait_for_function evaluates its predicate with eval(), which the pages'
        # Content-Security-Policy refuses; the tests of the policy itself open with bypass_csp=False.
        session = Browser(
            browser, asgi_live_server.url, viewport={"width": width, "height": height}, bypass_csp=bypass_csp
        )
        opened.append(session)
        return session

    yield open_
    for session in opened:
        session.close()
    errors = [error for session in opened for error in session.errors if not _expected(error)]
    assert not errors, f"errors in the browser: {errors}"


def _expected(error: str) -> bool:
    """Return whether a console error is the browser reporting a refusal the test provoked on purpose."""
    return "Failed to load resource" in error and re.search(r"status of (409|429)", error) is not None
