"""The chat UI (templates/chat, static/chat) in the system Chromium, against a live uvicorn server.

Each test drives the page as a person would (login form, typing, Enter,
buttons, the keyboard) and checks what is on the screen, then the database.
Screenshots of the main states go to ``test-artifacts/screenshots/``.
"""

import itertools
import json
import uuid

import pytest
from django.utils import timezone

from agents.models import Run
from sessions import services
from sessions.models import ChatSession, Message
from tests.support.stub_model import Cut, Error, Text, is_executor, is_routing, last_user_text, plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records every data-status change of the plan's steps, and every time the Stop button is shown or
# hidden, so a test can check the order pending -> running -> done (and that Stop was offered while
# the run ran) even when the events arrive faster than it could look.
STEP_LOG_SCRIPT = """
window.__stepLog = [];
window.__stopLog = [];
new MutationObserver((records) => {
  for (const record of records) {
    if (record.target.classList?.contains("step") && record.attributeName === "data-status") {
      window.__stepLog.push([record.target.dataset.stepId, record.oldValue, record.target.dataset.status]);
    }
    if (record.target.id === "stop" && record.attributeName === "hidden") {
      window.__stopLog.push(record.target.hidden ? "hidden" : "shown");
    }
  }
}).observe(document, {
  subtree: true, attributes: true, attributeFilter: ["data-status", "hidden"], attributeOldValue: true,
});
"""


# A network that drops the first stream after a few frames and fails the next two reconnects
# before any request leaves: what the page sees on a train, made deterministic.
FLAKY_NETWORK_SCRIPT = r"""
window.__flaky = { dropAfterFrames: 4, failJoins: 2, joinAttempts: 0 };
const realFetch = window.fetch.bind(window);
window.fetch = async (input, init = {}) => {
  const url = String(input);
  if (url.includes("/api/agent/runs/") && url.includes("/stream")) {
    window.__flaky.joinAttempts += 1;
    if (window.__flaky.failJoins > 0) {
      window.__flaky.failJoins -= 1;
      throw new TypeError("Failed to fetch");
    }
  }
  const response = await realFetch(input, init);
  if (!url.endsWith("/api/agent/stream") || !window.__flaky.dropAfterFrames) return response;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let frames = 0;
  // highWaterMark 0: pull only runs for a pending read, so the chunk enqueued just before the
  // error is handed to that read at once (a queued chunk would be discarded by error()).
  const body = new ReadableStream({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) return controller.close();
      controller.enqueue(value);
      frames += (decoder.decode(value).match(/\n\n/g) || []).length;
      if (frames >= window.__flaky.dropAfterFrames) {
        window.__flaky.dropAfterFrames = 0;
        reader.cancel();
        controller.error(new TypeError("network error"));
      }
    },
  }, new CountQueuingStrategy({ highWaterMark: 0 }));
  return new Response(body, { status: response.status, headers: response.headers });
};
"""


@pytest.fixture
def offline_model(settings):
    """Use the built-in offline model, slowed a little so the stream is really incremental."""
    from agents.llm import gateway as llm

    settings.LLM_PROVIDER = "offline"
    settings.OFFLINE_MODEL_DELAY = 0.01
    llm.reset_client()
    yield
    llm.reset_client()


def slow_plan_responder(*, step_seconds: float, answer: str = "Final answer: both have their place."):
    """Return a stub responder: a three-step plan whose executors each stream for about ``step_seconds``."""
    chunks = 10

    def reply(request):
        if is_routing(request):
            return plan(
                "Compare tea and coffee",
                [("tea", "Research tea"), ("coffee", "Research coffee"), ("pick", "Recommend one", ["tea", "coffee"])],
            )
        if is_executor(request):
            task = last_user_text(request)[:40]
            return Text(f"Findings for {task} " + "and more " * 20, chunks=chunks, chunk_delay=step_seconds / chunks)
        return Text(answer)

    return reply


def test_complex_message_streams_plan_steps_and_answer(open_browser, user, offline_model):
    ui = open_browser()
    page = ui.page
    page.goto("/")
    ui.screenshot("01-login")
    ui.login(user.username)
    page.add_init_script(STEP_LOG_SCRIPT)
    page.reload()
    page.wait_for_selector("#app[data-ready]")
    assert page.locator("#sessions-empty").is_visible()
    ui.screenshot("02-empty-chat")

    page.fill("#message", "compare tea and coffee for a morning routine")
    page.keyboard.press("Enter")

    run = page.locator(".run")
    run.locator(".plan-steps .step").first.wait_for()
    assert run.locator(".badge-complex").inner_text() == "Plan"
    ui.screenshot("03-plan-running")
    page.wait_for_selector(".run[data-status=completed]")
    ui.screenshot("04-answer-done")
    ui.screenshot_at_widths("shot-complex-run")

    steps = run.locator(".plan-steps .step")
    assert steps.count() >= 2
    assert set(steps.evaluate_all("nodes => nodes.map(n => n.dataset.status)")) == {"completed"}
    log = page.evaluate("window.__stepLog")
    for step_id in steps.evaluate_all("nodes => nodes.map(n => n.dataset.stepId)"):
        # A record's old value is exact; the value read in the callback is the newest (two changes in one
        # frame arrive in one callback): the statuses a step went through are its old values, then its last.
        seen = [old for sid, old, _ in log if sid == step_id] + ["completed"]
        assert list(itertools.pairwise(seen)) == [("pending", "running"), ("running", "completed")], log
    assert run.locator("details.executor").count() == steps.count()
    assert "completed" in run.locator("details.executor .fold-state").first.inner_text()
    answer = run.locator(".answer")
    assert answer.get_attribute("aria-live") == "polite"
    assert answer.get_attribute("aria-busy") == "false"
    assert "coffee" in answer.inner_text().lower()
    assert "tokens" in run.locator(".run-footer").inner_text()
    # Seen live, the run has shown every call it made: nothing more to offer to load.
    assert run.locator("button.show-details").count() == 0
    # The offline model costs nothing: no "$0.0000" bill under the answer, live or after a reload.
    assert "$" not in run.locator(".run-footer .usage").inner_text()
    # The offline run may finish before a look at the page could catch it running: the log saw it.
    assert page.evaluate("window.__stopLog") == ["shown", "hidden"]
    assert not page.locator("#stop").is_visible()

    session = ChatSession.objects.get(user=user)
    item = page.locator(f'.session[data-session-id="{session.pk}"]')
    item.wait_for()
    assert "compare tea and coffee" in item.inner_text()
    assert item.locator(".session-open").get_attribute("aria-current") == "page"
    assert f"s={session.pk}" in page.url
    answer_text = session.messages.get(role=Message.Role.ASSISTANT).content
    assert answer.inner_text().split()[:3] == answer_text.split()[:3]

    # Reopening the chat shows the history with the stored plan folded under its summary; it opens.
    step_count = steps.count()
    page.reload()
    plan = page.locator(".run .plan")
    plan.locator(".step").first.wait_for(state="attached")
    assert plan.get_attribute("open") is None
    assert plan.locator(".plan-progress").inner_text() == f"{step_count} of {step_count} steps done"
    plan.locator("summary.plan-head").click()
    assert plan.locator(".step[data-status=completed]").count() == step_count
    assert plan.locator("details.executor").count() == step_count
    ui.screenshot("04b-plan-after-reload")
    assert "$" not in page.locator(".run .run-footer .usage").inner_text()
    assert page.locator(".message-user").count() == 1
    # The offline plan called no tools and thought nothing aloud: once loaded, the offer goes away.
    page.get_by_role("button", name="Show tool calls and thinking").click()
    page.locator(".run button.show-details").wait_for(state="detached")
    assert page.locator(".run details.tool, .run details.thoughts").count() == 0
    assert plan.locator("details.executor").count() == step_count, "the replay adds no executor"


def test_stop_cancels_a_slow_run(open_browser, user, stub_model):
    stub_model.responder = slow_plan_responder(step_seconds=8)
    ui = open_browser()
    page = ui.page
    ui.login(user.username)

    page.fill("#message", "compare tea and coffee slowly")
    page.click("#send")
    page.wait_for_selector(".run .step[data-status=running]")
    page.wait_for_selector("#stop:not([disabled])")
    ui.screenshot("05-before-stop")
    page.click("#stop")

    page.wait_for_selector(".run[data-status=cancelled]", timeout=10_000)
    ui.screenshot("06-stopped")
    run_node = page.locator(".run")
    assert run_node.locator(".badge-status-cancelled").inner_text() == "Stopped"
    assert run_node.locator(".step[data-status=running]").count() == 0
    assert page.locator("#run-status").inner_text() == "Stopped."
    assert page.locator("#send").is_enabled()
    assert page.input_value("#message") == ""
    assert page.evaluate("sessionStorage.getItem('chat.activeRun')") is None
    run = Run.objects.get(user=user)
    assert run.status == Run.Status.CANCELLED


def test_reload_in_the_middle_of_a_run_rejoins_and_finishes(open_browser, user, stub_model):
    # Two rounds of 2 s steps: the run is still going when the reloaded page asks, even on a busy machine.
    stub_model.responder = slow_plan_responder(step_seconds=2.0, answer="Final answer: tea in the morning.")
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "compare tea and coffee, then reload")
    page.keyboard.press("Enter")
    page.wait_for_selector(".run .step[data-status=running]")
    run = Run.objects.get(user=user)
    assert run.is_active

    joins = []
    page.on("request", lambda request: "/stream" in request.url and joins.append(request))
    page.reload()

    page.wait_for_selector(".run .plan-steps .step")
    ui.screenshot("07-rejoined-after-reload")
    page.wait_for_selector(".run[data-status=completed]", timeout=15_000)
    ui.screenshot("08-rejoined-finished")
    assert [request.method for request in joins] == ["GET"]
    assert f"/api/agent/runs/{run.pk}/stream" in joins[0].url
    assert page.locator(".message-user").count() == 1
    assert page.locator(".run .step[data-status=completed]").count() == 3
    assert page.locator(".run .answer").inner_text() == "Final answer: tea in the morning."
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED


def test_dropped_connection_reconnects_after_the_last_event(open_browser, user, stub_model):
    stub_model.responder = slow_plan_responder(step_seconds=1.0, answer="Final answer after a drop.")
    ui = open_browser()
    page = ui.page
    page.add_init_script(FLAKY_NETWORK_SCRIPT)
    ui.login(user.username)
    joins = []
    page.on("request", lambda request: "/runs/" in request.url and "/stream" in request.url and joins.append(request))

    page.fill("#message", "compare tea and coffee over a bad network")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#run-status').textContent.includes('reconnecting')")
    ui.screenshot("09-reconnecting")

    page.wait_for_selector(".run[data-status=completed]", timeout=15_000)
    assert page.evaluate("window.__flaky") == {"dropAfterFrames": 0, "failJoins": 0, "joinAttempts": 3}
    assert len(joins) == 1, "two attempts fail before a request leaves; the third reaches the server"
    last_seen = int(joins[0].headers["last-event-id"])
    assert last_seen >= 4
    assert f"last_event_id={last_seen}" in joins[0].url
    assert page.locator(".run .answer").inner_text() == "Final answer after a drop."
    assert page.locator(".run .step[data-status=completed]").count() == 3
    assert page.locator(".run .plan").count() == 1, "replayed events must not be applied twice"
    assert int(page.locator(".run").get_attribute("data-last-seq")) == Run.objects.get(user=user).last_event_seq


def test_rate_limit_is_explained_and_the_text_kept(open_browser, user, offline_model, settings):
    settings.AGENT_RATE_LIMIT = "1/m"
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "hello there")
    page.keyboard.press("Enter")
    page.wait_for_selector(".run[data-status=completed]")
    page.wait_for_selector("#app:not(.is-running)")  # the composer is free again

    page.fill("#message", "one more, please")
    page.keyboard.press("Enter")

    notice = page.locator("#notice")
    notice.wait_for()
    ui.screenshot("10-rate-limited")
    text = notice.inner_text()
    assert "faster than allowed" in text and "Try again in" in text and "second" in text
    assert page.input_value("#message") == "one more, please"
    assert page.locator(".message-user").count() == 1
    assert Message.objects.filter(session__user=user, role=Message.Role.USER).count() == 1
    # The draft lives in sessionStorage: a reload does not lose it either.
    page.reload()
    page.wait_for_selector("#app[data-ready]")
    assert page.input_value("#message") == "one more, please"


def test_failed_run_is_explained_and_the_message_offered_again(open_browser, user, stub_model):
    stub_model.responder = lambda request: Error(400, "the model refused the request")
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "this will fail")
    page.keyboard.press("Enter")

    page.wait_for_selector(".run[data-status=failed]")
    ui.screenshot("16-run-failed")
    assert "The run failed" in page.locator(".run .run-error").inner_text()
    assert page.locator(".run .badge-status-failed").inner_text() == "Failed"
    page.locator(".session-title", has_text="this will fail").wait_for()
    assert page.input_value("#message") == "this will fail"
    assert page.locator("#send").is_enabled()


def test_api_docs_render_offline(open_browser, asgi_live_server):
    ui = open_browser()
    page = ui.page
    hosts = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    page.get_by_text("/api/agent/stream", exact=True).first.wait_for()
    ui.screenshot("17-api-docs")
    assert "Agents platform API" in page.locator(".swagger-ui .info .title").inner_text()
    assert hosts == {asgi_live_server.url.split("/")[2]}, f"the docs must not reach other hosts: {hosts}"


def test_sidebar_rename_and_delete_with_the_keyboard(open_browser, user, other_user):
    older = services.session_create(user=user, title="Trip to Lisbon")
    services.message_create(session=older, role=Message.Role.USER, content="Plan my trip")
    newer = services.session_create(user=user, title="Weekly groceries")
    services.message_create(session=newer, role=Message.Role.USER, content="What do I need?")
    ChatSession.objects.filter(pk=older.pk).update(updated_at=timezone.now() - timezone.timedelta(hours=2))
    services.session_create(user=other_user, title="Someone else's chat")
    ui = open_browser()
    page = ui.page
    ui.login(user.username)

    titles = page.locator(".session-title")
    titles.first.wait_for()
    assert titles.all_inner_texts() == ["Weekly groceries", "Trip to Lisbon"]

    page.locator(f'.session[data-session-id="{older.pk}"] .session-open').focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".message-user")
    assert page.locator(".message-user .bubble").inner_text() == "Plan my trip"
    assert page.locator("#chat-title").inner_text() == "Trip to Lisbon"

    page.get_by_role("button", name="Rename “Trip to Lisbon”").focus()
    page.keyboard.press("Enter")
    assert page.locator("#rename-dialog").is_visible()
    page.keyboard.press("Control+A")
    page.keyboard.type("Lisbon in May")
    ui.screenshot("11-rename-dialog")
    page.keyboard.press("Enter")
    page.wait_for_selector(".session-title:text('Lisbon in May')")
    assert page.locator("#chat-title").inner_text() == "Lisbon in May"
    older.refresh_from_db()
    assert older.title == "Lisbon in May"

    page.get_by_role("button", name="Delete “Lisbon in May”").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#delete-dialog")
    assert dialog.is_visible() and "Lisbon in May" in dialog.inner_text()
    ui.screenshot("12-delete-confirm")
    page.keyboard.press("Escape")  # cancel first: nothing is deleted
    assert not dialog.is_visible()
    assert ChatSession.objects.filter(pk=older.pk).exists()
    page.get_by_role("button", name="Delete “Lisbon in May”").focus()
    page.keyboard.press("Enter")
    page.locator("#delete-confirm").focus()
    page.keyboard.press("Enter")

    page.wait_for_selector(f'.session[data-session-id="{older.pk}"]', state="detached")
    assert titles.all_inner_texts() == ["Weekly groceries"]
    assert page.locator("#chat-title").inner_text() == "New chat"
    assert not ChatSession.objects.filter(pk=older.pk).exists()


def test_phone_width_drawer_and_model_output_stays_text(open_browser, user, offline_model):
    ui = open_browser(width=390, height=844)
    page = ui.page
    ui.login(user.username)
    assert not page.locator("#sidebar").is_visible()
    assert page.locator("#open-sidebar").is_visible()

    hostile = '<img src=x onerror="window.__pwned=1"> what is 2+2? **bold**'
    page.fill("#message", hostile)
    page.keyboard.press("Enter")
    page.wait_for_selector(".run[data-status=completed]")
    ui.screenshot("13-phone-chat")

    assert page.locator(".message-user .bubble").inner_text() == hostile
    assert page.input_value("#message") == ""
    assert page.locator("#messages img").count() == 0
    assert page.evaluate("window.__pwned") is None
    # Nothing, not even a long unbreakable title, pushes the page wider than the phone.
    rightmost = "Math.max(...[...document.querySelectorAll('#main *')].map(e => e.getBoundingClientRect().right))"
    assert page.evaluate(rightmost) <= 390

    page.click("#open-sidebar")
    assert page.locator("#sidebar").is_visible()
    assert page.locator("#open-sidebar").get_attribute("aria-expanded") == "true"
    page.locator(".session").first.wait_for()
    page.wait_for_function("document.querySelector('#sidebar').getBoundingClientRect().left >= 0")  # slid in
    assert page.evaluate("document.querySelector('#main').inert") is True
    ui.screenshot("14-phone-drawer")
    page.keyboard.press("Escape")
    page.wait_for_selector("#sidebar", state="hidden")
    assert page.evaluate("document.activeElement.id") == "open-sidebar"


def test_second_tab_gets_409_and_can_follow_the_running_answer(open_browser, user, stub_model):
    stub_model.responder = slow_plan_responder(step_seconds=1.0, answer="Final answer for both tabs.")
    first = open_browser()
    first.login(user.username)
    first.page.fill("#message", "compare tea and coffee in two tabs")
    first.page.keyboard.press("Enter")
    first.page.wait_for_function("new URLSearchParams(location.search).get('s')")
    session_url = first.page.url

    second = first.new_page()
    second.goto(session_url)
    second.wait_for_selector(".run .plan-steps .step")  # opened mid-run: it rejoins by itself
    second.wait_for_selector(".run[data-status=completed]", timeout=15_000)
    first.page.wait_for_selector(".run[data-status=completed]", timeout=15_000)

    # A new run from the first tab, slower, so it is still going while the second tab sends, gets its
    # 409 and follows it (whatever the machine's load); the second tab, idle on the same chat, sends too.
    stub_model.responder = slow_plan_responder(step_seconds=2.0, answer="Final answer for both tabs.")
    first.page.fill("#message", "and now with milk")
    first.page.keyboard.press("Enter")
    first.page.wait_for_selector(".run.is-running .step[data-status=running]")
    second.fill("#message", "a message from the other tab")
    second.keyboard.press("Enter")

    notice = second.locator("#notice")
    notice.wait_for()
    assert "still answering" in notice.inner_text()
    assert second.input_value("#message") == "a message from the other tab"
    first.screenshot("15-conflict-in-second-tab", page=second)
    second.get_by_role("button", name="Show the running answer").click()
    # The running answer comes with the question it answers (asked in the other tab).
    following = second.locator(".turn").nth(1)
    following.locator(".run").wait_for()
    assert following.locator(".message-user .bubble").inner_text() == "and now with milk"
    first.screenshot("15b-second-tab-follows-with-the-question", page=second)
    second.wait_for_selector(".run[data-status=completed] >> nth=1", timeout=15_000)
    assert following.locator(".answer").inner_text() == "Final answer for both tabs."
    assert second.locator(".turn").count() == 2
    assert second.input_value("#message") == "a message from the other tab", "the unsent text is kept"
    assert Run.objects.filter(user=user).count() == 2


def test_delete_dialog_cancelled_and_reopened_at_once_deletes_the_right_chat(open_browser, user):
    keep = services.session_create(user=user, title="Keep this chat")
    doomed = services.session_create(user=user, title="Delete this chat")
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.locator(".session-title").nth(1).wait_for()

    page.get_by_role("button", name="Delete “Keep this chat”").click()
    # Cancel and reopen in one task, as a quick user on a busy machine does: the cancelled dialog's
    # `close` event is still queued when the next one opens and must not decide that one's fate.
    page.evaluate(
        """() => {
          document.querySelector("#delete-dialog button[value=cancel]").click();
          document.querySelector('[aria-label="Delete “Delete this chat”"]').click();
        }"""
    )
    dialog = page.locator("#delete-dialog")
    assert dialog.is_visible() and "Delete this chat" in dialog.inner_text()
    page.locator("#delete-confirm").focus()
    page.keyboard.press("Enter")

    page.wait_for_selector(f'.session[data-session-id="{doomed.pk}"]', state="detached")
    assert page.locator(".session-title").all_inner_texts() == ["Keep this chat"]
    assert list(ChatSession.objects.filter(user=user)) == [keep]


def test_answer_cut_off_live_is_labelled_incomplete(open_browser, user, stub_model):
    stub_model.queue(Cut(after_chunks=3, content="one two three four five six"), Text("never used"))
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "count to six")
    page.keyboard.press("Enter")

    run = page.locator(".run[data-status=failed]")
    run.wait_for()
    ui.screenshot("18-answer-cut-off-live")
    assert run.locator(".answer").inner_text() == "one two three"
    assert run.locator(".incomplete-note").inner_text() == "Incomplete — the model's answer was cut off."
    assert run.locator(".incomplete-note").get_attribute("role") == "note"
    assert "is-incomplete" in run.get_attribute("class")
    stored = Message.objects.get(role=Message.Role.ASSISTANT)
    assert (stored.content.strip(), stored.status) == ("one two three", Message.Status.INCOMPLETE)
    page.reload()
    page.wait_for_selector("#app[data-ready]")
    note = page.locator(".incomplete-note")
    note.wait_for()
    assert note.inner_text() == "Incomplete — the model's answer was cut off."


def test_incomplete_answer_keeps_its_label_after_reload(open_browser, user):
    session = services.session_create(user=user, title="A story")
    services.message_create(session=session, role=Message.Role.USER, content="Tell me a story")
    services.message_create(session=session, role=Message.Role.ASSISTANT, content="Here is a whole story.")
    services.message_create(session=session, role=Message.Role.USER, content="Another one")
    services.message_create(
        session=session, role=Message.Role.ASSISTANT, content="Once upon a", status=Message.Status.INCOMPLETE
    )
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.goto(f"/?s={session.pk}")
    page.wait_for_selector("#app[data-ready]")
    page.reload()
    page.wait_for_selector("#app[data-ready]")
    ui.screenshot("19-incomplete-after-reload")

    answers = page.locator(".message-assistant")
    assert answers.count() == 2
    assert answers.evaluate_all("nodes => nodes.map(n => n.dataset.messageStatus)") == ["complete", "incomplete"]
    assert answers.nth(0).locator(".incomplete-note").count() == 0
    assert answers.nth(1).locator(".bubble").inner_text() == "Once upon a"
    assert answers.nth(1).locator(".incomplete-note").inner_text() == "Incomplete — the model's answer was cut off."


def test_resumed_run_drops_the_answer_so_far_and_retry_shows_its_delay(open_browser, user):
    """Events the engine sends rarely (docs/events.md), served as a made-up stream to the real page."""
    run_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        {"type": "session", "session": {"id": session_id, "title": "hi", "context_type": "general", "entity_id": None}},
        {"type": "analysis", "strategy": "simple", "reason": "short"},
        {"type": "retry", "attempt": 1, "code": "rate_limited", "delay_ms": 1500, "agent_id": "a1"},
        {"type": "text", "delta": "Hello wor", "agent_id": "a1"},
        {"type": "resumed", "attempt": 2, "reason": "worker_lost", "answer_reset": True},
        {"type": "text", "delta": "Hello world.", "agent_id": "a1"},
        {"type": "done", "status": "completed", "message_id": str(uuid.uuid4()), "usage": {}, "duration_ms": 5},
    ]
    body = "".join(
        f"id: {seq}\ndata: {json.dumps({**event, 'run_id': run_id, 'session_id': session_id, 'seq': seq})}\n\n"
        for seq, event in enumerate(events, start=1)
    )
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.route(
        "**/api/agent/stream",
        lambda route: route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body),
    )
    page.fill("#message", "hi")
    page.keyboard.press("Enter")

    run = page.locator(".run[data-status=completed]")
    run.wait_for()
    assert run.locator(".answer").inner_text() == "Hello world."
    assert run.locator(".run-warning").inner_text() == "The model was busy; trying again in 1.5 s…"
    assert run.locator(".incomplete-note").count() == 0
