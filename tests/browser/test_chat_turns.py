"""Turns that keep their state, Regenerate and Edit-and-resend, in the system Chromium.

After a reload every turn is drawn from the stored run (GET
/api/sessions/<id>/runs/, GET /api/agent/runs/<id>) and its answer: completed,
stopped (label and what was written), failed or interrupted (with the
reason), its plan, executors and usage. Regenerate and Edit each start a new
run through POST /api/agent/stream; the earlier turn stays.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Run
from sessions import services
from sessions.models import ChatSession, Message
from tests.browser.test_chat_ui import slow_plan_responder
from tests.support.stub_model import Error, Text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Pixels between each question's bubble (or "Asked again" line) and the label of the answer under it.
GAPS_UNDER_QUESTIONS = """() => [...document.querySelectorAll('.turn')].map(turn => {
  const bubble = turn.querySelector('.message-user .bubble').getBoundingClientRect();
  const label = turn.querySelector('.message-assistant .message-role').getBoundingClientRect();
  return label.top - bubble.bottom;
})"""

# The right edge of an element's text (a grid item's own box spans the whole row).
TEXT_RIGHT_EDGE = """n => {
  const range = document.createRange();
  range.selectNodeContents(n);
  return range.getBoundingClientRect().right;
}"""


def reload_chat(page):
    page.reload()
    page.wait_for_selector("#app[data-ready]")


def test_stopped_mid_answer_keeps_its_label_and_text_after_reload(open_browser, user, stub_model):
    stub_model.responder = lambda request: Text("word " * 200, chunk_delay=0.05)
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "write a lot")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.run .answer')?.textContent.includes('word word word')")
    page.wait_for_selector("#stop:not([disabled])")
    page.click("#stop")
    page.wait_for_selector(".run[data-status=cancelled]")
    live_text = page.locator(".run .answer").inner_text()
    assert page.locator(".run .incomplete-note").inner_text().startswith("Stopped — this is what was written")

    stored = Message.objects.get(role=Message.Role.ASSISTANT)
    assert stored.status == Message.Status.INCOMPLETE
    reload_chat(page)
    run = page.locator(".run")
    run.wait_for()
    ui.screenshot("turns-01-stopped-mid-answer-reloaded")
    ui.screenshot_at_widths("shot-stopped-turn-reloaded")
    assert run.get_attribute("data-status") == "cancelled"
    assert run.locator(".badge-status-cancelled").inner_text() == "Stopped"
    assert run.locator(".answer").inner_text() == stored.content.strip() == live_text
    assert run.locator(".incomplete-note").inner_text() == "Stopped — this is what was written before you stopped it."
    assert "tokens" in run.locator(".run-footer .usage").inner_text()
    assert page.locator(".message-user .bubble").inner_text() == "write a lot"


def test_stopped_before_the_answer_shows_the_plan_and_stopped_after_reload(open_browser, user, stub_model):
    stub_model.responder = slow_plan_responder(step_seconds=8)
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "compare tea and coffee, then stop")
    page.keyboard.press("Enter")
    page.wait_for_selector(".run .step[data-status=running]")
    page.wait_for_selector("#stop:not([disabled])")
    page.click("#stop")
    page.wait_for_selector(".run[data-status=cancelled]", timeout=10_000)

    reload_chat(page)
    run = page.locator(".run[data-status=cancelled]")
    run.wait_for()
    run.locator(".plan .step").first.wait_for()  # the plan comes from GET /api/agent/runs/<id>
    ui.screenshot("turns-02-stopped-before-answer-reloaded")
    assert run.locator(".badge-status-cancelled").inner_text() == "Stopped"
    assert run.locator(".run-stopped").inner_text() == "Stopped before an answer was written."
    assert run.locator(".answer").is_hidden()
    assert run.locator(".plan").get_attribute("open") is not None, "a run that did not complete shows its plan open"
    statuses = run.locator(".plan .step").evaluate_all("nodes => nodes.map(n => n.dataset.status)")
    assert len(statuses) == 3 and "completed" not in statuses and "running" not in statuses
    assert run.locator(".plan .step-title").all_inner_texts() == ["Research tea", "Research coffee", "Recommend one"]
    assert "tokens" in run.locator(".run-footer .usage").inner_text()


def test_failed_run_shows_its_reason_after_reload(open_browser, user, stub_model):
    stub_model.responder = lambda request: Error(400, "the model refused the request")
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "this will fail")
    page.keyboard.press("Enter")
    page.wait_for_selector(".run[data-status=failed]")
    live_error = page.locator(".run .run-error").inner_text()
    assert page.input_value("#message") == "this will fail", "offered again at once"

    reload_chat(page)
    run = page.locator(".run[data-status=failed]")
    run.wait_for()
    ui.screenshot("turns-03-failed-reloaded")
    ui.screenshot_at_widths("shot-failed-turn-reloaded")
    assert page.input_value("#message") == "", "after a reload the turn offers Regenerate; the box starts empty"
    stored = Run.objects.get(user=user)
    assert stored.error_message
    assert run.locator(".badge-status-failed").inner_text() == "Failed"
    assert run.locator(".run-error").inner_text() == live_error
    # The sentence for a person; the code and the run's reference for support on a quieter line.
    assert stored.error_message == f"The model service refused the request (bad_request) (reference: run {stored.pk})."
    assert run.locator(".run-error-text").inner_text() == "The run failed: The model service refused the request."
    assert run.locator(".run-reference").inner_text() == f"Reference for support: bad_request, run {stored.pk}"
    assert "the model refused" not in run.inner_text(), "the provider's own words are for operators"
    # No call was answered: no line of zeros ("0 tokens · 0 LLM calls · $0.0000"), only how long it took.
    assert run.locator(".run-footer .usage").inner_text().endswith(" s")
    assert "tokens" not in run.locator(".run-footer").inner_text()
    assert "$" not in run.locator(".run-footer").inner_text()


def test_interrupted_run_shows_its_reason_after_reload(open_browser, user):
    session = services.session_create(user=user, title="Interrupted chat")
    question = services.message_create(session=session, role=Message.Role.USER, content="a long job")
    answer = services.message_create(
        session=session, role=Message.Role.ASSISTANT, content="Half of the", status=Message.Status.INCOMPLETE
    )
    start = timezone.now() - timedelta(seconds=30)
    Run.objects.create(
        session=session,
        user=user,
        user_message=question,
        assistant_message=answer,
        status=Run.Status.INTERRUPTED,
        route=Run.Route.SIMPLE,
        route_reason="a direct answer",
        error_code="worker_lost",
        error_message="The server running this answer stopped.",
        total_tokens=42,
        llm_calls=1,
        started_at=start,
        finished_at=start + timedelta(seconds=3),
    )
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.goto(f"/?s={session.pk}")
    run = page.locator(".run[data-status=interrupted]")
    run.wait_for()
    ui.screenshot("turns-04-interrupted-reloaded")
    assert run.locator(".badge-status-interrupted").inner_text() == "Interrupted"
    assert run.locator(".run-error").inner_text() == "The run was interrupted: The server running this answer stopped."
    assert run.locator(".run-reference").count() == 0
    assert run.locator(".answer").inner_text() == "Half of the"
    assert run.locator(".incomplete-note").inner_text() == "Incomplete — the model's answer was cut off."
    assert run.locator(".badge-simple").inner_text() == "Direct answer"
    assert run.locator(".route-reason").inner_text() == "a direct answer"
    # A run that cost nothing shows no price.
    assert run.locator(".usage").inner_text() == "42 tokens · 1 LLM call · 3.0 s"


def test_regenerate_and_edit_start_new_runs_and_keep_the_old_turns(open_browser, user, stub_model):
    answers = iter(["First answer.", "Second answer.", "Answer to the edit."])
    stub_model.responder = lambda request: Text(next(answers))
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "tell me a fact")
    page.keyboard.press("Enter")
    page.wait_for_selector(".turn .run[data-status=completed]")
    assert page.locator(".turn .regenerate").count() == 1

    page.locator(".turn").last.locator(".regenerate").click()
    page.wait_for_selector(".turn:nth-child(2) .run[data-status=completed]")
    turns = page.locator(".turn")
    assert turns.count() == 2
    assert turns.nth(0).locator(".answer").inner_text() == "First answer."
    assert turns.nth(1).locator(".answer").inner_text() == "Second answer."
    # The question is asked again, not shown twice: a slim "Asked again" line above the new answer.
    first_question, again = turns.nth(0).locator(".message-user"), turns.nth(1).locator(".message-user")
    assert "is-repeat" not in first_question.get_attribute("class")
    assert "is-repeat" in again.get_attribute("class")
    assert again.locator(".message-role").inner_text().lower() == "asked again"
    assert again.locator(".repeat-text").inner_text() == "tell me a fact"
    bubble_heights = [q.locator(".bubble").bounding_box()["height"] for q in (first_question, again)]
    assert bubble_heights[1] < bubble_heights[0], "the repeat is slimmer than the question"
    assert page.locator(".regenerate").count() == 1, "only the last turn offers Regenerate"
    assert turns.nth(1).locator(".regenerate").count() == 1

    # Edit the first message: a box in place; Escape cancels, Send starts a new turn at the end.
    first = turns.nth(0).locator(".message-user")
    first.hover()
    first.locator(".edit-message").click()
    box = first.locator(".edit-input")
    assert box.input_value() == "tell me a fact"
    page.keyboard.press("Escape")
    assert first.locator(".edit-input").count() == 0
    first.hover()
    first.locator(".edit-message").click()
    box.fill("tell me a fact about tea")
    ui.screenshot("turns-05-editing")
    box.press("Enter")
    page.wait_for_selector(".turn:nth-child(3) .run[data-status=completed]")
    assert first.locator(".edit-input").count() == 0
    assert turns.nth(0).locator(".message-user .bubble").inner_text() == "tell me a fact"
    assert turns.nth(2).locator(".message-user .bubble").inner_text() == "tell me a fact about tea"
    assert turns.nth(2).locator(".answer").inner_text() == "Answer to the edit."
    ui.screenshot("turns-06-regenerated-and-edited")

    session = ChatSession.objects.get(user=user)
    runs = list(Run.objects.filter(session=session).order_by("created_at"))
    asked = [run.user_message.content for run in runs]
    assert asked == ["tell me a fact", "tell me a fact", "tell me a fact about tea"]
    assert all(run.status == Run.Status.COMPLETED for run in runs)
    # The same three turns come back after a reload, in order.
    reload_chat(page)
    page.locator(".turn").nth(2).locator(".run[data-status=completed]").wait_for()
    assert page.locator(".turn .answer").all_inner_texts() == ["First answer.", "Second answer.", "Answer to the edit."]
    repeats = page.locator(".turn .message-user").evaluate_all(
        "nodes => nodes.map(n => n.classList.contains('is-repeat'))"
    )
    assert repeats == [False, True, False]
    ui.screenshot_at_widths("turns-08-regenerated-after-reload")
    assert page.locator(".regenerate").count() == 1
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(f"window.innerWidth === {width}")
        assert max(page.evaluate(GAPS_UNDER_QUESTIONS)) <= 30, f"no hole between a question and its answer at {width}"
        # The hidden Copy and Edit sit in that space, on the right: shown, they cover nothing of the answer.
        question = page.locator(".turn").last.locator(".message-user")
        question.hover()
        tools = question.locator(".message-tools").bounding_box()
        label = page.locator(".turn").last.locator(".message-assistant .message-role")
        label_right = label.evaluate(TEXT_RIGHT_EDGE)
        assert tools["x"] > label_right, "the tools do not cover the assistant label"
        assert page.locator(".turn").last.locator(".edit-message").is_visible()


def test_actions_are_refused_politely_while_a_run_is_live(open_browser, user, stub_model):
    stub_model.responder = slow_plan_responder(step_seconds=4)
    session = services.session_create(user=user, title="Earlier")
    services.message_create(session=session, role=Message.Role.USER, content="earlier question")
    services.message_create(session=session, role=Message.Role.ASSISTANT, content="earlier answer")
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.goto(f"/?s={session.pk}")
    page.wait_for_selector(".message-user")
    page.fill("#message", "compare tea and coffee slowly")
    page.keyboard.press("Enter")
    page.wait_for_selector(".run .step[data-status=running]")
    assert page.locator(".regenerate").count() == 0, "no Regenerate while a run is live"
    first = page.locator(".turn").first.locator(".message-user")
    first.hover()
    first.locator(".edit-message").click()
    first.locator(".edit-input").fill("changed while running")
    first.locator(".edit-input").press("Enter")
    notice = page.locator("#notice")
    notice.wait_for()
    assert "Wait for the current answer" in notice.inner_text()
    assert first.locator(".edit-input").input_value() == "changed while running", "the edit is kept"
    page.click("#stop")
    page.wait_for_selector(".run[data-status=cancelled]", timeout=10_000)


def test_a_tool_runs_calls_come_back_on_demand_after_reload(open_browser, user, settings):
    """Tool calls are only in the run's events: after a reload, "Show tool calls" replays them under the answer."""
    from agents.llm import gateway as llm

    settings.LLM_PROVIDER = "offline"
    llm.reset_client()
    try:
        ui = open_browser()
        page = ui.page
        ui.login(user.username)
        page.fill("#message", "What time is it in Tokyo?")
        page.keyboard.press("Enter")
        page.wait_for_selector(".run[data-status=completed] details.tool")
        reload_chat(page)
        run = page.locator(".run[data-status=completed]")
        run.wait_for()
        assert run.locator("details.tool").count() == 0
        run.get_by_role("button", name="Show tool calls").click()
        tool = run.locator("details.tool")
        tool.wait_for()
        assert tool.locator("summary code").inner_text() == "get_current_time"
        assert "done" in tool.locator(".fold-state").inner_text()
        assert run.get_by_role("button", name="Show tool calls").count() == 0
        assert "Asia/Tokyo" in run.locator(".answer").inner_text()
        tool.locator("summary").click()
        assert '"timezone": "Asia/Tokyo"' in tool.locator(".tool-arguments").inner_text()
        ui.screenshot("turns-07-tool-calls-replayed")
    finally:
        llm.reset_client()
