"""Approval cards in the system Chromium, under the pages' real Content-Security-Policy.

A write tool call of the planner waits for the user: the chat shows a card with
Approve, Edit and Reject; an edit that the server refuses says why; the
approved (edited) call runs, the run goes on in the same view, and after a
reload the card still says what was decided and by whom.
"""

import pytest

from agents.models import Execution, Memory, Run
from tests.support.stub_model import Text, ToolCalls, is_routing, plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The order of approval cards and tool call folds inside a node, as the page shows them.
CARDS_AND_CALLS = (
    "node => [...node.querySelectorAll('.approval-card, details.tool')]"
    ".map(n => n.matches('.approval-card') ? 'approval' : 'tool')"
)


def test_an_edited_approval_runs_and_its_decision_stays_after_reload(open_browser, user, stub_model):
    stub_model.queue(ToolCalls([("remember", {"content": "I prefer tea"})]), Text("Saved your preference."))
    ui = open_browser(bypass_csp=False)
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "remember that I prefer tea")
    page.keyboard.press("Enter")

    card = page.locator(".approval-card[data-decision=pending]")
    card.wait_for()
    assert "remember" in card.locator(".approval-title").inner_text()
    assert '"content": "I prefer tea"' in card.locator(".approval-arguments").inner_text()
    assert "paused" in card.locator(".approval-status").inner_text()
    assert Run.objects.get().status == Run.Status.WAITING
    page.wait_for_selector("#run-status:text-is('Waiting for your decision…')")
    ui.screenshot("approvals-01-pending")
    # A card, not bare text: framed, with Approve as the page's primary button.
    assert card.evaluate("c => parseFloat(getComputedStyle(c).borderTopWidth)") >= 1
    approve_colour = card.locator(".approval-approve").evaluate("b => getComputedStyle(b).backgroundColor")
    send_colour = page.locator("#send").evaluate("b => getComputedStyle(b).backgroundColor")
    assert approve_colour == send_colour
    assert card.locator(".approval-reason").evaluate("i => getComputedStyle(i).width") == card.locator(
        ".approval-controls"
    ).evaluate("c => getComputedStyle(c).width"), "the reason box spans the card"
    ui.screenshot_at_widths("shot-approval-card")
    # On a phone the status goes under the title, which keeps its whole width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("window.innerWidth === 390")
    title = page.locator("#chat-title")
    assert title.evaluate("t => t.scrollWidth <= t.clientWidth"), "the title is not cut to make room for the status"
    status = page.locator("#run-status").bounding_box()
    assert status["y"] >= title.bounding_box()["y"] + title.bounding_box()["height"] - 1
    page.set_viewport_size({"width": 1280, "height": 820})
    page.wait_for_function("window.innerWidth === 1280")

    card.locator(".approval-edit").click()
    card.locator(".approval-editor").fill('{"content": 5}')
    card.locator(".approval-approve").click()
    error = card.locator(".approval-error")
    error.wait_for()
    assert "string" in error.inner_text().lower()
    assert not Memory.objects.exists(), "a refused edit runs nothing"
    # The browser logs the 400 this test provoked on purpose; any other error still fails the test.
    refused = [e for e in ui.errors if "Failed to load resource" in e and "status of 400" in e]
    assert len(refused) == 1
    ui.errors.remove(refused[0])

    card.locator(".approval-editor").fill('{"content": "I prefer green tea"}')
    card.locator(".approval-approve").click()
    page.wait_for_selector(".approval-card[data-decision=approved]")
    page.wait_for_selector(".run[data-status=completed]")
    assert page.locator("#run-status").inner_text() == ""
    assert page.locator(".run .answer").inner_text() == "Saved your preference."
    decided = page.locator(".approval-card .approval-status").inner_text()
    assert decided == f"Approved by {user.username}"
    assert list(Memory.objects.values_list("content", flat=True)) == ["I prefer green tea"]
    ui.screenshot("approvals-02-approved")
    # The card comes before the call it let run, as it happened.
    assert page.locator(".run .run-trace").evaluate(CARDS_AND_CALLS) == ["approval", "tool"]

    page.reload()
    page.wait_for_selector("#app[data-ready]")
    page.wait_for_selector(".approval-card[data-decision=approved]")
    assert page.locator(".approval-card .approval-status").inner_text() == f"Approved by {user.username}"
    assert "green tea" in page.locator(".approval-card .approval-edited").inner_text()
    # What ran replaces what was proposed, under a label in words (not "Edited: {" inside the code).
    assert page.locator(".approval-card .approval-edited").inner_text().startswith("{")
    assert page.locator(".approval-card .approval-edited-label").inner_text() == "It ran with your changes:"
    assert page.locator(".approval-card .approval-arguments").is_hidden()
    assert page.locator(".approval-card button").count() == 0, "a decided card has no buttons"
    page.get_by_role("button", name="Show tool calls").click()
    page.locator(".run details.tool").wait_for()
    assert page.locator(".run .run-trace").evaluate(CARDS_AND_CALLS) == ["approval", "tool"]


def test_a_rejected_approval_says_so_with_the_reason(open_browser, user, stub_model):
    stub_model.queue(ToolCalls([("remember", {"content": "I prefer tea"})]), Text("All right, not saved."))
    ui = open_browser(bypass_csp=False)
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "remember that I prefer tea")
    page.keyboard.press("Enter")
    card = page.locator(".approval-card[data-decision=pending]")
    card.wait_for()
    card.locator(".approval-reason").fill("not now")
    card.locator(".approval-reject").click()
    page.wait_for_selector(".approval-card[data-decision=rejected]")
    page.wait_for_selector(".run[data-status=completed]")
    assert page.locator(".approval-card .approval-status").inner_text() == f"Rejected by {user.username}: not now"
    assert not Memory.objects.exists()


def test_plan_review_card_shows_the_steps_and_rejecting_answers_without_executors(open_browser, user, stub_model):
    def reply(request):
        if is_routing(request):
            return plan("Compare X and Y", [("x", "Research X"), ("y", "Research Y")])
        return Text("A direct answer, without research.")

    stub_model.responder = reply
    ui = open_browser(bypass_csp=False)
    page = ui.page
    ui.login(user.username)
    page.check("#review-plan")
    page.fill("#message", "compare X and Y")
    page.keyboard.press("Enter")
    card = page.locator(".approval-card[data-kind=plan][data-decision=pending]")
    card.wait_for()
    # The steps are in the plan card just above; the review card does not repeat them.
    run = page.locator(".run")
    assert run.locator(".plan .step-title").all_inner_texts() == ["Research X", "Research Y"]
    follows = "c => Boolean(c.closest('.run').querySelector('.plan').compareDocumentPosition(c) & 4)"
    assert card.evaluate(follows), "the card comes after the plan it reviews"
    for title in ("Research X", "Research Y"):
        assert run.inner_text().count(title) == 1, f"{title!r} is shown once"
    assert card.locator(".approval-hint").inner_text().startswith("Approve to run the 2 steps above")
    assert Run.objects.get().review_plan is True
    ui.screenshot("approvals-03-plan-review")
    card.locator(".approval-reject").click()
    page.wait_for_selector(".run[data-status=completed]")
    assert page.locator(".run .answer").inner_text() == "A direct answer, without research."
    assert page.locator(".approval-card .approval-status").inner_text() == f"Rejected by {user.username}"
    assert page.locator(".approval-card .approval-hint").is_hidden(), "the hint about the buttons goes with them"
    assert not Execution.objects.exists()
