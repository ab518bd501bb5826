"""GET /healthz reports the database and the cache."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_cache(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["cache"] == "ok"
    assert body["cache_backend"] in {"LocMemCache", "RedisCache"}


def test_healthz_reports_a_broken_cache(client, monkeypatch):
    from agents_platform import views

    def refuse(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(views.cache, "set", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cache"] == "error: ConnectionError"
    assert response.json()["database"] == "ok"


def test_login_page_and_admin_redirect(client):
    assert client.get("/accounts/login/").status_code == 200
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
