"""Fixtures shared by the whole suite."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from tests.support.live_server import asgi_live_server  # noqa: F401 (fixture: uvicorn on a free port, see its module)
from tests.support.offline_calls import offline_model  # noqa: F401 (fixture: the built-in offline model, see its module)
from tests.support.stub_model import stub_model  # noqa: F401 (fixture: OpenAI-compatible stub model server, see its module)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Start every test with an empty cache: rate limits and budgets live there."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Hash test passwords cheaply: the default PBKDF2 costs ~0.3 s per user and nothing here tests it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db):
    """Return a factory of users with a known password."""
    counter = {"n": 0}

    def make(username: str | None = None, **extra):
        counter["n"] += 1
        name = username or f"user{counter['n']}"
        return get_user_model().objects.create_user(username=name, password="pw-for-tests-123", **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def other_user(make_user):
    return make_user("mallory")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Stop the runtime's maintenance thread before the test database is destroyed.

    Requests and runs start that thread lazily (``worker.ensure_maintenance``);
    left running, it outlives the test database and logs "no such table" on its
    next beat (recreating an empty SQLite file as it connects). Overriding
    pytest-django's fixture orders the stop before its teardown; the thread's
    last act (forgetting its worker row) may use the database.
    """
    yield
    from agents.runtime import worker

    with django_db_blocker.unblock():
        worker.stop_maintenance()
