"""Error pages, Django's debug page included, never show a password written in a URL."""

import secrets
import sys

import pytest
from django.test import Client
from django.views.debug import technical_500_response

from agents_platform.debug import redact_credentials

pytestmark = pytest.mark.django_db

# Made at run time, so the page's source-code excerpts cannot be what shows them.
PW = {name: f"{name}-{secrets.token_hex(6)}" for name in ("redis", "db", "broker", "cache", "local", "message", "env")}
SECRETS = {
    "REDIS_URL": f"redis://:{PW['redis']}@cache.internal:6379/0",
    "DATABASE_URL": f"postgres://app:{PW['db']}@db.internal:5432/agents",
    "CELERY_BROKER_URL": f"rediss://worker:{PW['broker']}@broker.internal:6380/1",
}


@pytest.fixture
def secret_settings(settings):
    settings.DEBUG = True
    for name, url in SECRETS.items():
        setattr(settings, name, url)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"redis://default:{PW['cache']}@cache.internal:6379/2",
        },
    }
    return settings


def test_debug_page_and_text_report_mask_credentials_everywhere(rf, secret_settings):
    # runserver copies the environment into request.META; a frame holds a URL; the message quotes one.
    request = rf.get("/boom", REDIS_URL=f"redis://:{PW['env']}@cache.internal:6379/0")
    local_url = f"amqp://guest:{PW['local']}@mq.internal:5672//"  # noqa: F841 (shown as a frame variable)
    try:
        raise ConnectionError(f"cannot reach redis://:{PW['message']}@cache.internal:6379/0")
    except ConnectionError:
        html = technical_500_response(request, *sys.exc_info()).content.decode()
        text = technical_500_response(rf.get("/boom", HTTP_ACCEPT="text/plain"), *sys.exc_info()).content.decode()
    assert "REDIS_URL" in html and "cache.internal" in html, "the settings are still shown, masked"
    assert "local_url" in html
    for page in (html, text):
        for password in PW.values():
            assert password not in page


def test_a_view_crash_under_debug_shows_no_password(secret_settings, user, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(user)

    def crash(*args, **kwargs):
        raise RuntimeError("template backend down")

    monkeypatch.setattr("sessions.views.render", crash)
    response = client.get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page and "CELERY_BROKER_URL" in page, "it is Django's debug page"
    for password in PW.values():
        assert password not in page


def test_redact_keeps_urls_readable():
    assert redact_credentials("redis://:p@ss@h:6379/0 and x@y.org") == "redis://********@h:6379/0 and x@y.org"
    assert redact_credentials("postgres://db.internal:5432/agents") == "postgres://db.internal:5432/agents"
