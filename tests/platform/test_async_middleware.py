"""An async request (a stream) goes through the middleware on the event loop: no thread hop per middleware.

Django's ``MiddlewareMixin`` runs each ``process_request`` / ``process_response``
of an async request in a shared thread (``sync_to_async``). The project's
middleware (``agents_platform.async_middleware``) runs them inline unless they
touch the database. Measured here side by side: the same stream request
through the stock classes and through ours, counting every ``sync_to_async``
call, with the same response.
"""

import asyncio
from unittest import mock

import httpx
import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings
from rest_framework.authtoken.models import Token

from agents import events
from tests.factories import done_event, make_run, session_event

STOCK = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "agents_platform.middleware.ContentSecurityPolicyMiddleware",
    "agents_platform.middleware.ServiceUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def request_through(middleware: list[str], path: str, headers: dict[str, str]) -> tuple[httpx.Response, list[str]]:
    hops: list[str] = []
    original = SyncToAsync.__call__

    def counting(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return original(self, *args, **kwargs)

    async def fetch(app) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path, headers=headers)

    with override_settings(MIDDLEWARE=middleware):
        app = ASGIHandler()
        with mock.patch.object(SyncToAsync, "__call__", counting):
            response = asyncio.run(fetch(app))
    return response, hops


@pytest.mark.django_db(transaction=True)
def test_a_stream_request_hops_to_a_thread_for_no_middleware(user):
    run = make_run(user)
    events.emit(run, session_event(run), done_event())
    token, _ = Token.objects.get_or_create(user=user)
    path, headers = f"/api/agent/runs/{run.pk}/stream", {"Authorization": f"Token {token.key}"}

    stock, stock_hops = request_through(STOCK, path, headers)
    ours, our_hops = request_through(settings.MIDDLEWARE, path, headers)

    assert stock.status_code == ours.status_code == 200
    assert stock.text == ours.text and stock.text.count("\ndata: ") == 2
    assert {k: v for k, v in stock.headers.items() if k != "content-length"} == {
        k: v for k, v in ours.headers.items() if k != "content-length"
    }
    middleware_hops = [name for name in our_hops if "Middleware" in name or "process_" in name]
    assert middleware_hops == [], our_hops
    stock_middleware_hops = [name for name in stock_hops if "Middleware" in name or "process_" in name]
    assert len(stock_middleware_hops) >= 10, stock_hops  # two per stock middleware with request and response hooks
    assert len(our_hops) <= len(stock_hops) - 10


@pytest.mark.django_db(transaction=True)
def test_a_form_login_over_asgi_is_csrf_checked_and_saves_its_session(user):
    # What still needs a thread takes one: the form body of a CSRF check, the session a login saves.
    from django.contrib.sessions.models import Session

    async def log_in(with_token: bool) -> httpx.Response:
        transport = httpx.ASGITransport(app=ASGIHandler())
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            page = await http.get("/accounts/login/")
            assert page.status_code == 200
            form = {"username": "alice", "password": "pw-for-tests-123"}
            if with_token:
                form["csrfmiddlewaretoken"] = http.cookies["csrftoken"]
            return await http.post("/accounts/login/", data=form)

    refused = asyncio.run(log_in(with_token=False))
    assert refused.status_code == 403
    assert not Session.objects.exists()
    accepted = asyncio.run(log_in(with_token=True))
    assert accepted.status_code == 302, accepted.text[:300]
    assert "sessionid" in accepted.cookies
    assert Session.objects.count() == 1


def test_the_deploy_checks_still_warn_when_a_security_middleware_is_missing(settings):
    from agents_platform.async_middleware import middleware_checks

    assert middleware_checks() == []
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "XFrameOptions" not in m and "Csrf" not in m]
    assert sorted(warning.id for warning in middleware_checks()) == ["agents_platform.W002", "agents_platform.W003"]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.csrf.CsrfViewMiddleware"]  # the stock one counts
    assert [warning.id for warning in middleware_checks()] == ["agents_platform.W002"]
