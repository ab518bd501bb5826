"""An agent's `thinking` in the system Chromium: folded under the agent that thought it, never in the answer.

The stub model streams a reasoning channel (``reasoning_content``) for the
planner and for each executor, and an executor's own words before its tool
call; the page must fold each agent's thinking under it (the planner's in the
run's trace, an executor's inside its fold, before its tool calls), closed,
as plain text.
"""

import pytest

from agents.models import Agent, Run
from tests.support.stub_model import Text, ToolCalls, is_executor, is_routing, last_user_text, plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLANNER_THOUGHTS = ["Two drinks ", "to compare; ", "a plan of two steps."]
TEA_THOUGHTS = ["Tea first: ", "caffeine <b>and</b> taste."]
TEA_WORDS = "I will look the numbers up."
COFFEE_THOUGHTS = ["Coffee has more caffeine."]


def reply(request):
    if is_routing(request):
        routed = plan("Compare tea and coffee", [("tea", "Research tea"), ("coffee", "Research coffee")])
        routed.reasoning = PLANNER_THOUGHTS
        return routed
    if is_executor(request):
        if last_user_text(request).startswith("Step: Research tea"):
            if request["messages"][-1]["role"] != "tool":
                return ToolCalls([("calculate", {"expression": "40*2"})], content=TEA_WORDS, reasoning=TEA_THOUGHTS)
            return Text("Tea: 40 mg.")
        return Text("Coffee: 95 mg.", reasoning=COFFEE_THOUGHTS)
    return Text("Tea is milder; coffee is stronger.")


def test_thinking_is_folded_under_its_agent_and_never_in_the_answer(open_browser, user, stub_model):
    stub_model.responder = reply
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "compare tea and coffee")
    page.keyboard.press("Enter")
    run = page.locator(".run[data-status=completed]")
    run.wait_for()
    stored = Run.objects.get(user=user)

    # The planner's thinking: one fold first in the run's trace (it thought before it planned), closed.
    planner = Agent.objects.get(run=stored, role="planner")
    planner_fold = run.locator(f".run-trace > .planner-thoughts > details.thoughts[data-agent-id='{planner.pk}']")
    assert planner_fold.count() == 1
    trace = run.locator(".run-trace").evaluate(
        "t => [...t.querySelectorAll('details.thoughts, details.plan')].map(n => n.className)"
    )
    assert trace[0] == "fold thoughts" and trace[1] == "plan", trace
    assert planner_fold.get_attribute("data-agent-kind") == "planner"
    assert planner_fold.get_attribute("open") is None, "thinking is folded"
    assert planner_fold.locator(".thoughts-text").is_hidden()
    assert planner_fold.locator("summary").inner_text() == "Thinking"

    # Each executor's thinking inside its own fold, before its tool calls.
    executors = list(Agent.objects.filter(run=stored, role="executor"))
    assert len(executors) == 2
    by_text = {}
    for agent in executors:
        fold = run.locator(f"details.executor[data-executor-id='{agent.pk}']")
        thoughts = fold.locator(f"details.thoughts[data-agent-id='{agent.pk}']")
        assert thoughts.count() == 1, "an executor's thinking is under that executor"
        assert thoughts.get_attribute("open") is None
        fold.locator(":scope > summary").click()
        thoughts.locator("summary").click()
        by_text[thoughts.locator(".thoughts-text").inner_text()] = fold
    assert set(by_text) == {"".join(TEA_THOUGHTS) + TEA_WORDS, "".join(COFFEE_THOUGHTS)}
    tea = by_text["".join(TEA_THOUGHTS) + TEA_WORDS]
    order = tea.evaluate(
        "fold => [...fold.querySelectorAll('details.thoughts, details.tool')]"
        ".map(n => n.classList.contains('tool') ? 'tool' : 'thoughts')"
    )
    assert order == ["thoughts", "tool"], "its thinking comes before the call it announced"
    # Model text is text: the <b> it wrote is shown, not drawn.
    assert tea.locator(".thoughts-text b").count() == 0

    planner_fold.locator("summary").click()
    assert planner_fold.locator(".thoughts-text").inner_text() == "".join(PLANNER_THOUGHTS)
    ui.screenshot("thinking-01-folds-open")

    # Nothing of the thinking reaches the answer, live or after a reload.
    answer = run.locator(".answer").inner_text()
    assert answer == "Tea is milder; coffee is stronger."
    page.reload()
    page.wait_for_selector(".run[data-status=completed] .answer")
    assert page.locator(".run .answer").inner_text() == answer
    # After a reload the plan and executors come from the stored run; their thinking and tool calls
    # (only in the run's events) come back on demand, under the same agents.
    run = page.locator(".run[data-status=completed]")
    for agent in executors:
        run.locator(f"details.executor[data-executor-id='{agent.pk}']").wait_for(state="attached")
    assert run.locator("details.thoughts").count() == 0
    run.get_by_role("button", name="Show tool calls and thinking").click()
    run.locator(f".planner-thoughts > details.thoughts[data-agent-id='{planner.pk}']").wait_for(state="attached")
    for agent in executors:
        fold = run.locator(f"details.executor[data-executor-id='{agent.pk}']")
        assert fold.locator(f"details.thoughts[data-agent-id='{agent.pk}']").count() == 1
    assert run.locator("details.executor").count() == 2, "the replay fills the executors it has, adds none"
    assert run.locator("details.tool").count() == 1
    assert run.locator(".answer").inner_text() == answer
    assert run.get_by_role("button", name="Show tool calls and thinking").count() == 0
    ui.page.set_viewport_size({"width": 390, "height": 844})
    ui.screenshot("thinking-02-after-reload-phone")
