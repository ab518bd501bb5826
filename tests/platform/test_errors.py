"""A Redis or database that cannot serve answers 503 JSON with Retry-After, never an HTML 500."""

import socket

import pytest
from django.core.cache import cache
from django.db import OperationalError
from rest_framework.authtoken.models import Token

from agents.runs import services as run_services
from agents_platform.errors import service_unavailable_for
from sessions import selectors as session_selectors

pytestmark = pytest.mark.django_db

REDIS_PASSWORD = "redis-pw-not-for-pages"


def closed_port() -> int:
    """Return a local TCP port nobody listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_down(settings):
    """Point the default cache at a Redis that refuses connections, as REDIS_URL would."""
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{closed_port()}/0"
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    return url


@pytest.fixture
def api(client, user):
    token = Token.objects.create(user=user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    return client


def assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"] and error["fields"] == {}
    assert error["retry_after"] == int(response["Retry-After"])
    text = response.content.decode()
    assert "Traceback" not in text and REDIS_PASSWORD not in text and "<html" not in text.lower()


# The stream view reads in worker threads with their own connections: they must see committed rows.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [False, True])
def test_message_with_redis_down_answers_503_json(api, redis_down, settings, debug):
    settings.DEBUG = debug
    response = api.post("/api/agent/stream", {"message": "hello"}, content_type="application/json")
    assert_unavailable(response)


def test_drf_endpoint_that_needs_redis_answers_503_json_and_others_still_work(api, redis_down, monkeypatch):
    assert api.get("/api/sessions/").status_code == 200, "the history API needs no Redis"

    real_session_list = session_selectors.session_list

    def session_list_reading_the_cache(**kwargs):
        cache.get("anything")  # a real call to the dead Redis
        return real_session_list(**kwargs)

    monkeypatch.setattr(session_selectors, "session_list", session_list_reading_the_cache)
    assert_unavailable(api.get("/api/sessions/"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [False, True])
def test_database_locked_answers_503_json_on_the_stream_and_the_api(api, monkeypatch, settings, debug):
    settings.DEBUG = debug

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(run_services, "run_create", locked)
    assert_unavailable(api.post("/api/agent/stream", {"message": "hello"}, content_type="application/json"))
    monkeypatch.setattr(session_selectors, "session_list", locked)
    assert_unavailable(api.get("/api/sessions/"))


def test_html_page_with_a_service_down_answers_a_plain_503_page(client, user, monkeypatch, settings):
    settings.DEBUG = True
    client.force_login(user)

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("sessions.views.render", locked)
    response = client.get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 503 and response["Retry-After"]
    text = response.content.decode()
    assert "Briefly unavailable" in text and "Traceback" not in text and "database is locked" not in text


def test_only_outages_are_503_not_bugs():
    import sqlite3

    import redis

    def wrapped(cause: Exception) -> OperationalError:
        error = OperationalError(str(cause))
        error.__cause__ = cause
        return error

    assert service_unavailable_for(redis.exceptions.ConnectionError("refused")) is not None
    assert service_unavailable_for(redis.exceptions.TimeoutError("slow")) is not None
    assert service_unavailable_for(wrapped(sqlite3.OperationalError("database is locked"))) is not None
    assert service_unavailable_for(wrapped(sqlite3.OperationalError("no such table: x"))) is None
    assert service_unavailable_for(redis.exceptions.ResponseError("WRONGTYPE")) is None
    assert service_unavailable_for(ValueError("bug")) is None
