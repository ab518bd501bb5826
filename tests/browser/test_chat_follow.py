"""A view that follows (static/chat/js/scroll.js), on a desktop and a phone, in the system Chromium.

A long plan whose steps call tools and stream text arrives in bursts (a plan
card, several tool calls at once): while the person has not scrolled up, the
conversation stays at its bottom after every layout, with the last line
fully visible; once they scroll up, it stays where they put it and offers
"Jump to latest".
"""

import pytest

from tests.support.stub_model import Text, ToolCalls, has_tool_results, is_executor, is_routing, plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEPS = 6

# Installed after the page's own follower (observers run in the order they were created), so each
# callback sees where the follower left the view after that layout: the distance to the bottom of
# the conversation, worst case kept while a run is live.
WATCH_SCRIPT = """
() => {
  const box = document.querySelector("#conversation");
  window.__worst = 0;
  window.__checks = 0;
  new ResizeObserver(() => {
    if (!document.querySelector("#app").classList.contains("is-running")) return;
    window.__checks += 1;
    window.__worst = Math.max(window.__worst, box.scrollHeight - box.scrollTop - box.clientHeight);
  }).observe(document.querySelector("#messages"));
}
"""

# Resolve with the conversation's scrollTop once it has not moved for five frames.
SCROLL_SETTLED = """
() => new Promise((resolve) => {
  const box = document.querySelector("#conversation");
  let last = box.scrollTop;
  let still = 0;
  const tick = () => {
    if (box.scrollTop === last) {
      if (++still >= 5) return resolve(last);
    } else {
      still = 0;
      last = box.scrollTop;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})
"""

LAST_LINE_VISIBLE = """
() => {
  const box = document.querySelector("#conversation").getBoundingClientRect();
  const runs = document.querySelectorAll(".run");
  const footer = runs[runs.length - 1].querySelector(".run-footer");
  const line = footer.getBoundingClientRect();
  return { footerTop: line.top, footerBottom: line.bottom, boxTop: box.top, boxBottom: box.bottom };
}
"""


def long_plan_responder(*, chunk_delay: float):
    """A plan of STEPS steps in a chain; each executor calls two tools at once, then streams a paragraph."""

    def reply(request):
        if is_routing(request):
            steps = [
                (f"s{n}", f"Step number {n}", f"Do part {n}", [f"s{n - 1}"] if n > 1 else [])
                for n in range(1, STEPS + 1)
            ]
            return plan("A long piece of work", steps)
        if is_executor(request):
            if not has_tool_results(request):
                return ToolCalls(
                    [("calculate", {"expression": "6*7"}), ("get_current_time", {"timezone": "Europe/Paris"})]
                )
            return Text("Findings: " + "several words of detail " * 12, chunks=8, chunk_delay=chunk_delay)
        table = "\n".join(f"| row {n} | {n * n} |" for n in range(1, 9))
        answer = "## Summary\n\n| item | value |\n|---|---|\n" + table + "\n\nAll six parts are done."
        return Text(answer, chunks=12, chunk_delay=chunk_delay)

    return reply


DISTANCE = "(b => b.scrollHeight - b.scrollTop - b.clientHeight)(document.querySelector('#conversation'))"


def distance_to_bottom(page) -> float:
    return page.evaluate(DISTANCE)


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 720, "desktop"), (390, 844, "phone")])
def test_a_long_plan_is_followed_to_its_last_line(open_browser, user, stub_model, width, height, name):
    stub_model.responder = long_plan_responder(chunk_delay=0.02)
    ui = open_browser(width=width, height=height)
    page = ui.page
    ui.login(user.username)
    page.evaluate(WATCH_SCRIPT)
    page.fill("#message", "do a long piece of work in steps")
    page.keyboard.press("Enter")
    page.locator(".run .step[data-status=running]").first.wait_for()
    ui.screenshot(f"follow-01-{name}-running")
    page.wait_for_selector(".run[data-status=completed]", timeout=30_000)
    ui.screenshot(f"follow-02-{name}-done")

    assert page.locator(".run .step[data-status=completed]").count() == STEPS
    assert page.locator(".run details.tool").count() == 2 * STEPS
    checks, worst = page.evaluate("[window.__checks, window.__worst]")
    assert checks > STEPS, "the watcher saw the content grow"
    assert worst <= 1, f"the view was left {worst}px above its bottom after a layout"
    # The last line (the usage under the answer) is inside the visible box, whole, once the frame that
    # drew it is laid out.
    page.wait_for_function(
        f"(l => l.footerBottom <= l.boxBottom + 0.5 && l.footerTop >= l.boxTop)(({LAST_LINE_VISIBLE})())"
    )
    lines = page.evaluate(LAST_LINE_VISIBLE)
    assert lines["footerBottom"] <= lines["boxBottom"] + 0.5, lines
    assert "tokens" in page.locator(".run .run-footer").inner_text()
    assert page.locator("#jump-latest").is_hidden()


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 720, "desktop"), (390, 844, "phone")])
def test_scrolling_up_stops_following_and_jump_to_latest_comes_back(
    open_browser, user, stub_model, width, height, name
):
    # A first, long answer gives the conversation somewhere to scroll up to.
    stub_model.queue(Text("\n\n".join(f"Paragraph {n} of an earlier answer." for n in range(1, 31))))
    stub_model.responder = long_plan_responder(chunk_delay=0.08)
    ui = open_browser(width=width, height=height)
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "tell me something long first")
    page.keyboard.press("Enter")
    page.wait_for_selector(".run[data-status=completed]")
    page.wait_for_selector("#app:not(.is-running)")
    page.fill("#message", "do a long piece of work, and let me read")
    page.keyboard.press("Enter")
    page.locator(".run .step[data-status=completed]").nth(1).wait_for()

    # The person scrolls up (a wheel over the conversation) while the run goes on.
    page.locator("#conversation").hover()
    page.mouse.wheel(0, -400)
    page.wait_for_selector("#jump-latest:not([hidden])")
    held = page.evaluate(SCROLL_SETTLED)  # a wheel scroll may be animated: wait for it to come to rest
    assert distance_to_bottom(page) > 100
    page.locator(".run .step[data-status=completed]").nth(3).wait_for(timeout=20_000)  # more content arrived
    ui.screenshot(f"follow-03-{name}-scrolled-up")
    assert page.evaluate("document.querySelector('#conversation').scrollTop") == held, "the view stayed put"
    assert page.locator("#jump-latest").is_visible()

    page.click("#jump-latest")
    page.wait_for_function(f"{DISTANCE} <= 1")  # at the next frame at the latest
    assert page.locator("#jump-latest").is_hidden()
    page.wait_for_selector(".turn:last-child .run[data-status=completed]", timeout=30_000)
    page.wait_for_function(f"{DISTANCE} <= 1")  # following again after the jump, to the end
    assert page.locator("#jump-latest").is_hidden()
    ui.screenshot(f"follow-04-{name}-jumped")
