"""A run's cost next to its tokens, the daily budget under the composer, and budget warnings, in Chromium."""

from decimal import Decimal

import pytest

from tests.support.stub_model import Text, ToolCalls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cost_next_to_tokens_and_the_daily_budget(open_browser, user, stub_model, settings):
    # 1,000 prompt tokens at $2 and 500 completion tokens at $10 per million: $0.007.
    settings.AGENT_PRICES = {"gpt-4o-mini": {"input": Decimal(2), "output": Decimal(10), "cached_input": Decimal(2)}}
    settings.AGENT_COST_BUDGET_DAILY = Decimal(5)
    stub_model.queue(Text("A priced answer.", usage=(1000, 500)))
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.wait_for_selector("#budget-line")
    assert page.locator("#budget-line").inner_text() == "Today: $0.0000 of your $5.00 daily budget"
    page.fill("#message", "hello")
    page.keyboard.press("Enter")
    run = page.locator(".run[data-status=completed]")
    run.wait_for()
    usage = run.locator(".usage").inner_text()
    assert "1,500 tokens" in usage and "$0.0070" in usage, usage
    page.wait_for_function("document.getElementById('budget-line').textContent.includes('$0.0070')")
    ui.screenshot("cost-01-run-and-budget")
    page.reload()
    page.wait_for_selector("#app[data-ready]")
    assert "$0.0070" in page.locator(".run .usage").first.inner_text(), "the cost is kept after a reload"


def test_no_budget_line_without_a_daily_budget(open_browser, user, settings):
    settings.AGENT_COST_BUDGET_DAILY = None
    ui = open_browser()
    ui.login(user.username)
    ui.page.wait_for_selector("#app[data-ready]")
    ui.page.wait_for_load_state("networkidle")
    assert ui.page.locator("#budget-line").count() == 0


def test_a_budget_warning_shows_in_the_run_and_its_cost_beside_the_tokens(open_browser, user, stub_model, settings):
    # $10 per million tokens of any kind; the first call's 85,000 tokens ($0.85) pass 80% of a $1.00 day.
    settings.AGENT_PRICES = {"dear-model": {"input": Decimal(10), "output": Decimal(10), "cached_input": Decimal(10)}}
    settings.PLANNER_MODEL = settings.EXECUTOR_MODEL = "dear-model"
    settings.AGENT_COST_BUDGET_DAILY = Decimal("1.00")
    stub_model.queue(
        ToolCalls([("calculate", {"expression": "2+2"})], usage=(75_000, 10_000)),
        Text("It is 4.", usage=(100, 10)),
    )
    ui = open_browser()
    page = ui.page
    ui.login(user.username)
    page.fill("#message", "what is 2+2?")
    page.keyboard.press("Enter")
    run = page.locator(".run[data-status=completed]")
    run.wait_for()
    warning = run.locator(".run-warning")
    assert warning.count() == 1
    assert warning.inner_text() == "85% of today's budget used: $0.8500 of $1.00."
    usage = run.locator(".usage").inner_text()
    assert usage.startswith("85,110 tokens · 2 LLM calls · $0.8511"), usage
    assert run.locator(".answer").inner_text() == "It is 4."
    page.wait_for_function("document.getElementById('budget-line').textContent.includes('$0.8511')")
    ui.screenshot("cost-02-budget-warning")
