"""``manage.py ensure_demo_user`` (what ``make run`` calls at every start)."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def run_command(monkeypatch, **env) -> str:
    for name in ("DEMO_USERNAME", "DEMO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    call_command("ensure_demo_user", stdout=out)
    return out.getvalue()


def test_creates_the_demo_user_once_and_never_resets_its_password(monkeypatch):
    first = run_command(monkeypatch, DEMO_USERNAME="demo", DEMO_PASSWORD="first-password")
    user = get_user_model().objects.get(username="demo")
    assert user.is_staff and user.is_superuser
    assert "Demo user created: username=demo password=first-password" in first
    browser = Client()
    assert browser.login(username="demo", password="first-password")
    assert browser.get("/").status_code == 200

    # A restart (make run again), even with another DEMO_PASSWORD: nothing changes, nobody is signed out.
    second = run_command(monkeypatch, DEMO_USERNAME="demo", DEMO_PASSWORD="second-password")
    user.refresh_from_db()
    assert user.check_password("first-password")
    assert "Demo user ready: username=demo" in second
    assert "second-password" not in second and "first-password" not in second
    assert browser.get("/").status_code == 200, "the signed-in browser keeps its session"
    assert get_user_model().objects.filter(username="demo").count() == 1


def test_prints_the_same_token_each_time_and_what_it_runs_on(monkeypatch, settings):
    settings.REDIS_URL = "redis://:s3cret-pass@cache.internal:6379/2"
    first = run_command(monkeypatch)
    second = run_command(monkeypatch)
    key = Token.objects.get(user__username="demo").key
    for out in (first, second):
        assert f"API token: {key}" in out
        assert "Database: " in out
        assert "Event bus: Redis at redis://***@cache.internal:6379/2" in out
        assert "s3cret" not in out
        assert "Runs execute in: this process" in out


def test_without_redis_the_bus_is_named_in_process(monkeypatch, settings):
    settings.REDIS_URL = None
    out = run_command(monkeypatch)
    assert "Event bus: in-process" in out
