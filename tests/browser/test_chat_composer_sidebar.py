"""The message box and the sidebar in the system Chromium: the length limit, suggestions that send
(and answer offline), Stop and Send on a phone, chats grouped by date, search, whole titles."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from agents.models import Run
from sessions import services
from sessions.models import ChatSession, Message
from tests.browser.test_chat_ui import slow_plan_responder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def offline_model(settings):
    from agents.llm import gateway as llm

    settings.LLM_PROVIDER = "offline"
    llm.reset_client()
    yield
    llm.reset_client()


def test_the_limit_shows_before_it_is_reached_and_a_long_paste_is_kept_whole(open_browser, user, settings):
    settings.AGENT_MAX_MESSAGE_CHARS = 1000
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    counter = page.locator("#char-count")
    assert "up to 1,000 characters" in page.locator("#composer-hint").inner_text()

    page.fill("#message", "a" * 700)
    assert counter.is_hidden(), "no counter while far from the limit"
    page.fill("#message", "a" * 850)
    assert counter.inner_text() == "850 / 1,000"
    assert page.locator("#send").is_enabled()

    # A paste past the limit is kept whole (nothing cut silently); the counter says by how much.
    page.fill("#message", "")
    page.locator("#message").focus()
    page.keyboard.insert_text("b" * 1012)
    assert len(page.input_value("#message")) == 1012
    assert counter.inner_text() == "1,012 / 1,000 — 12 over the limit"
    assert "is-over" in counter.get_attribute("class")
    assert page.locator("#send").is_disabled()
    ui.screenshot("composer-01-over-the-limit")
    page.keyboard.press("Enter")
    notice = page.locator("#notice")
    notice.wait_for()
    assert notice.inner_text().startswith("That message is 1,012 characters; the limit is 1,000.")
    assert page.locator(".message-user").count() == 0
    assert not Message.objects.exists()

    for _ in range(12):
        page.keyboard.press("Backspace")
    assert counter.inner_text() == "1,000 / 1,000"
    assert page.locator("#send").is_enabled()


def test_each_suggestion_sends_and_is_answered_by_the_offline_model(open_browser, user, offline_model):
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    chips = page.locator("#suggestions .chip").all_inner_texts()
    assert len(chips) == 3
    expected = {
        "Compare tea and coffee for a morning routine": "Recommendation:",
        "What time is it in Tokyo?": "Asia/Tokyo",
        "What is 17% of 2,340?": "397.8",
    }
    assert set(chips) == set(expected)
    for number, chip in enumerate(chips, start=1):
        page.click("#new-chat")
        page.get_by_role("button", name=chip).click()  # one click sends: no Enter needed
        run = page.locator(".run[data-status=completed]")
        run.wait_for(timeout=20_000)
        answer = run.locator(".answer").inner_text()
        assert expected[chip] in answer, (chip, answer)
        assert "can't look that up" not in answer
        assert page.locator(".message-user .bubble").inner_text() == chip
        assert page.input_value("#message") == ""
        ui.screenshot(f"composer-02-suggestion-{number}")
        page.wait_for_selector("#app:not(.is-running)")
    assert Run.objects.filter(user=user, status=Run.Status.COMPLETED).count() == 3


def test_stop_and_send_leave_the_message_box_its_width_on_a_phone(open_browser, user, stub_model):
    stub_model.responder = slow_plan_responder(step_seconds=4)
    ui = open_browser(width=390, height=844)
    page = ui.page
    ui.login(user.username)
    idle = page.locator("#message").bounding_box()["width"]
    composer = page.locator("#composer").bounding_box()["width"]
    assert idle >= composer - 70, (idle, composer)
    page.fill("#message", "compare tea and coffee on a phone")
    page.keyboard.press("Enter")
    page.wait_for_selector("#stop:not([disabled])")
    page.locator("#message").fill("typing the next one while it runs")
    ui.screenshot("composer-03-phone-running")
    running = page.locator("#message").bounding_box()["width"]
    assert running == idle, "Stop takes Send's place; the box keeps its width"
    assert page.locator("#send").is_hidden()
    stop = page.locator("#stop").bounding_box()
    assert stop["width"] <= 44 and stop["x"] + stop["width"] <= 390
    assert page.get_by_role("button", name="Stop").is_visible(), "the icon-only button keeps its name"
    page.click("#stop")
    page.wait_for_selector(".run[data-status=cancelled]", timeout=10_000)
    assert page.locator("#send").is_visible()


def test_sidebar_groups_by_date_searches_and_keeps_whole_titles(open_browser, user, other_user):
    # "Today" is today on the browser's clock (the system's zone): never earlier than local midnight.
    local_midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    now = max(timezone.now(), local_midnight + timedelta(minutes=2))
    long_title = "Planning the family trip to Lisbon and Porto in May"
    made = {}
    for title, age in [
        ("Weekly groceries", timedelta(seconds=30)),
        (long_title, timedelta(seconds=60)),
        ("Yesterday's notes", timedelta(days=1)),  # this time yesterday: the day before, whatever the hour
        ("Tax questions", timedelta(days=12)),
    ]:
        session = services.session_create(user=user, title=title)
        ChatSession.objects.filter(pk=session.pk).update(updated_at=now - age)
        made[title] = session
    services.message_create(session=made["Tax questions"], role=Message.Role.USER, content="What about Lisbon rent?")
    ChatSession.objects.filter(pk=made["Tax questions"].pk).update(updated_at=now - timedelta(days=12))
    services.session_create(user=other_user, title="Lisbon, someone else's")

    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.locator(".session-title").nth(3).wait_for()
    groups = page.locator(".session-group")
    labels = groups.locator(".session-group-title").all_inner_texts()
    assert labels == ["Today", "Yesterday", "Previous 30 days"], labels
    assert page.locator(".session-title").all_inner_texts() == [
        "Weekly groceries",
        long_title,
        "Yesterday's notes",
        "Tax questions",
    ]
    # The long title is shown whole (two lines), not cut at 20 characters; its full text is the tooltip too.
    title = page.locator(".session-title", has_text="Planning the family")
    assert title.evaluate("e => e.scrollHeight <= e.clientHeight + 1"), "the title fits, nothing clipped"
    assert page.locator(f'.session-open[title="{long_title}"]').count() == 1
    ui.screenshot("sidebar-01-groups")
    ui.screenshot_at_widths("shot-sidebar")  # at phone width: the chat, the sidebar folded away
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("#open-sidebar")
    page.wait_for_function("document.querySelector('#sidebar').getBoundingClientRect().left >= 0")  # slid in
    assert page.locator(".session-title").all_inner_texts()[1] == long_title
    ui.screenshot("shot-sidebar-phone-drawer")
    page.keyboard.press("Escape")
    page.wait_for_selector("#sidebar", state="hidden")
    page.set_viewport_size({"width": 1280, "height": 820})
    page.wait_for_selector("#sidebar", state="visible")

    page.fill("#session-search", "lisbon")
    page.wait_for_function("document.querySelectorAll('.session').length === 2")
    assert sorted(page.locator(".session-title").all_inner_texts()) == sorted([long_title, "Tax questions"])
    ui.screenshot("sidebar-02-search")
    page.fill("#session-search", "madrid")
    page.wait_for_selector("#sessions-empty:not([hidden])")
    assert page.locator("#sessions-empty").inner_text() == "No chats match “madrid”."
    page.locator("#session-search").press("Escape")
    page.wait_for_function("document.querySelectorAll('.session').length === 4")
    assert page.input_value("#session-search") == ""
