"""The browser tests' rule for a missing Chromium: skip with how to install it, fail under CI."""

import pytest

from tests.browser import conftest


def test_missing_chromium_skips_with_a_hint_and_fails_under_ci(monkeypatch):
    monkeypatch.setattr(conftest, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        conftest._require_chromium()
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        conftest._require_chromium()
