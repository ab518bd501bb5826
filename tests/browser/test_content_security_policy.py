"""Pages under their Content-Security-Policy in the system Chromium: nothing refused, everything drawn.

The browser reports each refusal of the policy as a console error, and the
``open_browser`` fixture fails a test on any console error.
"""

import pytest
from rest_framework.authtoken.models import Token

from tests.agents.admin.test_runs import build_run
from tests.browser.conftest import PASSWORD
from tests.support.stub_model import Text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_chat_page_signs_in_and_streams_an_answer_under_its_policy(open_browser, user, stub_model):
    answer = "An answer drawn under the **policy**.\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    stub_model.responder = lambda request: Text(answer)
    ui = open_browser(bypass_csp=False)
    page = ui.page
    ui.login(user.username)  # the login page, then the chat page, both under the strict policy
    assert "style-src 'self';" in page.evaluate("fetch('/').then(r => r.headers.get('content-security-policy'))")
    page.fill("#message", "hello there")
    page.keyboard.press("Enter")
    page.wait_for_selector(".run[data-status=completed]")
    # The chat's ES modules and the vendored markdown libraries load and run under script-src 'self'.
    assert page.locator(".run .answer p").inner_text() == "An answer drawn under the policy."
    assert page.locator(".run .answer strong").inner_text() == "policy"
    assert page.locator(".run .answer table td").all_inner_texts() == ["1", "2"]
    # chat.css applied: the composer is laid out by the stylesheet, not the browser's defaults.
    assert page.locator("#app").evaluate("e => getComputedStyle(e).display") == "grid"


def test_swagger_ui_draws_the_api_under_its_policy(open_browser):
    ui = open_browser(bypass_csp=False)
    page = ui.page
    response = page.goto("/api/docs/")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path")  # operations drawn from the fetched schema
    assert page.locator(".opblock-summary-path", has_text="/api/sessions/").count() >= 1
    # Its stylesheet applied: Swagger UI's own layout, not the browser's defaults.
    assert page.locator(".swagger-ui .opblock").first.evaluate("e => getComputedStyle(e).borderRadius") != "0px"
    ui.screenshot("csp-api-docs")


def test_admin_pages_work_under_the_policy(open_browser, make_user, user):
    admin = make_user("root", is_staff=True, is_superuser=True)
    run = build_run(user)
    Token.objects.create(user=user)
    ui = open_browser(bypass_csp=False)
    page = ui.page
    page.goto("/admin/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    for path in (
        "/admin/",
        f"/admin/agents/run/{run.pk}/change/",
        "/admin/authtoken/tokenproxy/",
        f"/admin/auth/user/{user.pk}/change/",
    ):
        response = page.goto(path)
        assert response.status == 200 and "content-security-policy" in response.headers
        page.wait_for_load_state("load")
    # The run page's own stylesheet (agents/admin.css) applied: steps of the plan graph sit in a flex row.
    page.goto(f"/admin/agents/run/{run.pk}/change/")
    assert page.locator(".plan-graph").first.evaluate("e => getComputedStyle(e).display") == "flex"
    # The admin's scripts run: the theme toggle of Django's admin switches the theme.
    before = page.evaluate("document.documentElement.dataset.theme || ''")
    page.click("button.theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme || ''") != before
    ui.screenshot("csp-admin-run")
