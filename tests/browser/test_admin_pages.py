"""The admin's run and agent pages as an operator sees them, in the system Chromium."""

import pytest

from agents.models import AgentMessage, RunEvent
from tests.agents.admin.test_runs import build_run
from tests.browser.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_to_admin(ui, admin) -> None:
    ui.page.goto("/admin/login/")
    ui.page.fill("#id_username", admin.username)
    ui.page.fill("#id_password", PASSWORD)
    ui.page.click("input[type=submit]")
    ui.page.wait_for_selector("#site-name")


def test_timeline_text_unfolds_and_conversations_are_wide(open_browser, make_user, user):
    admin = make_user("root", is_staff=True, is_superuser=True)
    run = build_run(user)
    RunEvent.objects.filter(run=run, type="text").delete()
    for seq, piece in enumerate(["The ", "whole ", "answer."], start=100):
        RunEvent.objects.create(run=run, seq=seq, type="text", data={"type": "text", "seq": seq, "delta": piece})
    planner = run.agents.get(role="planner")
    AgentMessage.objects.create(agent=planner, run=run, role="user", content="a long prompt line " * 40)
    ui = open_browser(width=1280, height=900, bypass_csp=False)
    page = ui.page
    sign_in_to_admin(ui, admin)
    assert page.locator("#site-name").inner_text() == "Agents platform administration"

    page.goto(f"/admin/agents/run/{run.pk}/change/")
    folded = page.locator("#events-group details.event-text")
    assert folded.count() == 1
    assert folded.locator("summary").inner_text() == "3 text events, seq 100 to 102: “The whole answer.”"
    assert not folded.locator("pre").is_visible()
    folded.locator("summary").click()
    assert folded.locator("pre").inner_text() == "The whole answer."
    page.locator("#events-group details.event-data").first.locator("summary").click()
    assert '"marker": "m01"' in page.locator("#events-group details.event-data pre").first.inner_text()
    folded.scroll_into_view_if_needed()
    ui.screenshot("admin-01-run-timeline-folded")

    page.goto(f"/admin/agents/agent/{planner.pk}/change/")
    content = page.locator("#conversation-group .agent-content").last
    width = content.bounding_box()["width"]
    assert width >= 300, f"the conversation column is {width}px wide"
    assert content.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"
    assert page.locator("#conversation-group pre.tool-calls").first.is_visible()
    ui.screenshot("admin-02-agent-conversation")
