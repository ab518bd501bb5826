"""Every HTML page carries a Content-Security-Policy that its own markup keeps to."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.agents.admin.test_runs import build_run

pytestmark = pytest.mark.django_db

# A <script> that runs inline: no src, and not a data block such as json_script's application/json.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"", re.I)
ON_HANDLER = re.compile(r"\son[a-z]+=\"", re.I)


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()}


def assert_strict_page(response) -> None:
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    page = response.content.decode()
    assert not INLINE_SCRIPT.search(page), INLINE_SCRIPT.search(page)
    assert not INLINE_STYLE.search(page), INLINE_STYLE.search(page)
    assert not ON_HANDLER.search(page), ON_HANDLER.search(page)


def test_login_and_chat_pages_have_a_strict_policy(client, user):
    assert_strict_page(client.get("/accounts/login/"))
    client.force_login(user)
    assert_strict_page(client.get("/"))


def test_admin_pages_have_a_strict_policy(client, admin_client, user):
    assert_strict_page(client.get(reverse("admin:login")))
    run = build_run(user)
    Token.objects.create(user=user)
    for url in (
        reverse("admin:index"),
        reverse("admin:agents_run_changelist"),
        reverse("admin:agents_run_change", args=[run.pk]),
        reverse("admin:authtoken_tokenproxy_changelist"),
        reverse("admin:auth_user_change", args=[user.pk]),
    ):
        assert_strict_page(admin_client.get(url))


def test_json_answers_carry_no_page_policy(client, user):
    client.force_login(user)
    assert "Content-Security-Policy" not in client.get("/api/sessions/")


def test_api_docs_load_only_their_own_assets(client):
    response = client.get("/api/docs/")
    policy = directives(response)
    assert policy["script-src"] == "'self'", "Swagger UI runs no inline script"
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    page = response.content.decode()
    assert not INLINE_SCRIPT.search(page)
    scripts = re.findall(r"<script src=\"([^\"]+)\"", page)
    assert len(scripts) == 3
    for url in [*scripts, *re.findall(r"<link rel=\"stylesheet\" href=\"([^\"]+)\"", page)]:
        assert not url.startswith(("http:", "https:", "//")), f"{url} is not ours"
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), f"{url} is missing"
        else:
            init = client.get(url)  # the start-up script, served by the docs view itself
            assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
            assert "SwaggerUIBundle" in init.content.decode()
