"""Dollars: prices, cost per call rolled up to executions, runs, messages and sessions; budgets and run caps."""

import json
import math
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis
from rest_framework.test import APIClient

from agents.exceptions import CostBudgetExceeded
from agents.llm import prices
from agents.models import AgentMessage, Execution, Run
from agents.runs import costs
from agents.runtime import admission
from sessions.models import ChatSession, Message
from tests.factories import run_message, stored_events
from tests.support.processes import ROOT, platform_env
from tests.support.stub_model import Text, ToolCalls, is_executor, is_routing, last_user_text, plan

pytestmark = pytest.mark.django_db(transaction=True)

MILLION = Decimal(1_000_000)
# US dollars per million tokens, as an operator would write them in AGENT_PRICES.
PRICES = {
    "priced-planner": {"input": Decimal("2.50"), "output": Decimal("10"), "cached_input": Decimal("1.25")},
    "priced-executor": {"input": Decimal("0.15"), "output": Decimal("0.60"), "cached_input": Decimal("0.075")},
}


def hand_price(model: str, prompt: int, completion: int, cached: int = 0) -> Decimal:
    """Price one call by hand from PRICES (what the test expects, independent of agents.llm.prices)."""
    price = PRICES[model]
    return (
        (prompt - cached) * price["input"] + cached * price["cached_input"] + completion * price["output"]
    ) / MILLION


@pytest.fixture
def priced(settings):
    settings.LLM_PROVIDER = "openai"  # the offline model is free
    settings.AGENT_PRICES = PRICES
    settings.PLANNER_MODEL = "priced-planner"
    settings.EXECUTOR_MODEL = "priced-executor"
    return settings


# --- Prices ------------------------------------------------------------------------


def test_an_override_prices_cached_prompt_tokens_at_their_own_rate(priced):
    cost = prices.price_call(
        models=("priced-planner",), prompt_tokens=1_000_000, completion_tokens=100_000, cached_tokens=400_000
    )
    assert cost.known
    assert cost.usd == Decimal("0.6") * Decimal("2.50") + Decimal("0.4") * Decimal("1.25") + Decimal("1.0")


def test_the_price_table_prices_a_known_model_and_its_cache(settings):
    settings.LLM_PROVIDER = "openai"
    settings.AGENT_PRICES = {}
    # genai-prices' gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
    cost = prices.price_call(
        models=("gpt-4o-mini",), prompt_tokens=2_000_000, completion_tokens=1_000_000, cached_tokens=1_000_000
    )
    assert cost == prices.Cost(usd=Decimal("0.825"), known=True)


def test_an_unknown_model_costs_nothing_and_says_so(settings):
    settings.LLM_PROVIDER = "openai"
    settings.AGENT_PRICES = {}
    cost = prices.price_call(models=("mystery-model-9000",), prompt_tokens=5000, completion_tokens=5000)
    assert cost == prices.Cost(usd=Decimal(0), known=False)
    assert prices.estimate_prompt_cost(model="mystery-model-9000", prompt_tokens=5000) == 0


def test_the_served_name_is_priced_first_then_the_asked_one(priced):
    served = prices.price_call(models=("priced-executor", "priced-planner"), prompt_tokens=100, completion_tokens=0)
    assert served.usd == hand_price("priced-executor", 100, 0)
    fallback = prices.price_call(
        models=("gpt-unknown-snapshot", "priced-planner"), prompt_tokens=100, completion_tokens=0
    )
    assert fallback.usd == hand_price("priced-planner", 100, 0) and fallback.known


def test_the_offline_model_is_free_and_known(settings):
    settings.LLM_PROVIDER = "offline"
    assert prices.price_call(models=("gpt-4o",), prompt_tokens=10**6, completion_tokens=10**6) == prices.Cost(
        usd=Decimal(0), known=True
    )


# --- Cost stored and rolled up ------------------------------------------------------


def test_a_scripted_run_costs_the_sum_of_its_calls_at_every_level(priced, user, stub_model):
    routing = plan("Compare", [("x", "Research tea"), ("y", "Research coffee"), ("r", "Recommend", ["x", "y"])])
    routing.usage = (1200, 300, 1000)  # 1000 of the prompt tokens from the provider's cache
    executor_usage = {"Research tea": (500, 40), "Research coffee": (610, 77, 512), "Recommend": (820, 95)}

    def reply(request):
        if is_routing(request):
            return routing
        if is_executor(request):
            title = last_user_text(request).splitlines()[0].removeprefix("Step: ")
            return Text(f"Findings: {title}", usage=executor_usage[title])
        return Text("Tea for calm mornings.", usage=(900, 120, 800))

    stub_model.responder = reply
    run = run_message(user, "tea or coffee?")
    assert run.status == Run.Status.COMPLETED, run.error_message

    calls = {
        "routing": hand_price("priced-planner", 1200, 300, 1000),
        "synthesis": hand_price("priced-planner", 900, 120, 800),
        **{title: hand_price("priced-executor", *usage) for title, usage in executor_usage.items()},
    }
    total = sum(calls.values())  # about three quarters of a cent; every call is exact to 1e-10 dollars

    stored = AgentMessage.objects.filter(run=run, role="assistant").order_by("id")
    assert sorted(call.cost_usd for call in stored) == sorted(prices.quantize(c) for c in calls.values())
    assert all(call.cost_known for call in stored)
    assert {call.cached_tokens for call in stored} == {1000, 512, 800, 0}
    for execution in Execution.objects.filter(run=run).select_related("step"):
        assert execution.cost_usd == prices.quantize(calls[execution.step.title]) and execution.cost_known
    assert run.cost_usd == total and run.cost_known
    answer = Message.objects.get(pk=run.assistant_message_id)
    assert answer.cost_usd == total
    assert ChatSession.objects.get(pk=run.session_id).cost_usd == total

    events = stored_events(run)
    done = events[-1]
    assert done["type"] == "done" and Decimal(str(done["usage"]["cost_usd"])) == total
    assert done["usage"]["cost_known"] is True
    results = [event for event in events if event["type"] == "executor_result"]
    assert len(results) == 3
    for event in results:
        execution = Execution.objects.get(agent_id=event["executor_id"])
        assert Decimal(str(event["usage"]["cost_usd"])) == execution.cost_usd
        assert event["duration_ms"] == execution.duration_ms and event["duration_ms"] >= 0

    api = APIClient()
    api.force_authenticate(user)
    detail = api.get(f"/api/agent/runs/{run.pk}").json()
    assert Decimal(str(detail["usage"]["cost_usd"])) == total and detail["usage"]["cost_known"] is True
    assert {Decimal(str(e["usage"]["cost_usd"])) for e in detail["executions"]} == {
        prices.quantize(calls[title]) for title in executor_usage
    }
    assert all(e["duration_ms"] is not None for e in detail["executions"])
    session = api.get(f"/api/sessions/{run.session_id}/").json()
    assert Decimal(str(session["cost_usd"])) == total
    runs = api.get(f"/api/sessions/{run.session_id}/runs/").json()["results"]
    assert Decimal(str(runs[0]["cost_usd"])) == total and runs[0]["cost_known"] is True
    messages = api.get(f"/api/sessions/{run.session_id}/messages/").json()["results"]
    assert [Decimal(str(m["cost_usd"])) for m in messages] == [Decimal(0), total]

    # A second run in the session adds to the session, not to the first answer.
    stub_model.responder = None
    stub_model.queue(Text("Still tea.", usage=(300, 10)))
    second = run_message(user, "sure?", session_id=run.session_id)
    assert second.cost_usd == prices.quantize(hand_price("priced-planner", 300, 10))
    assert ChatSession.objects.get(pk=run.session_id).cost_usd == total + second.cost_usd
    assert Message.objects.get(pk=run.assistant_message_id).cost_usd == total


def test_an_unknown_model_is_marked_cost_known_false_everywhere(settings, user, stub_model):
    settings.AGENT_PRICES = {}
    settings.PLANNER_MODEL = "mystery-model-9000"
    stub_model.queue(Text("Hi.", usage=(100, 20)))
    run = run_message(user, "hi")
    assert run.status == Run.Status.COMPLETED
    call = AgentMessage.objects.get(run=run, role="assistant")
    assert (call.cost_usd, call.cost_known) == (Decimal(0), False)
    assert (run.cost_usd, run.cost_known) == (Decimal(0), False)
    assert stored_events(run)[-1]["usage"]["cost_known"] is False
    api = APIClient()
    api.force_authenticate(user)
    assert api.get(f"/api/agent/runs/{run.pk}").json()["usage"]["cost_known"] is False


# --- The daily dollar budget ---------------------------------------------------------


@pytest.fixture
def dear(settings):
    """One model at $10 per million tokens of any kind: a call of N tokens costs N / 100000 dollars.

    A run's first call sends about 1450 tokens of prompt (system prompt, tool schemas, message) by the
    gateway's estimate, the next planner call about 1470, an executor's first about 700.
    """
    settings.LLM_PROVIDER = "openai"
    settings.AGENT_PRICES = {"dear-model": {"input": Decimal(10), "output": Decimal(10), "cached_input": Decimal(10)}}
    settings.PLANNER_MODEL = settings.EXECUTOR_MODEL = "dear-model"
    return settings


def test_a_run_stops_before_the_call_that_would_pass_the_daily_budget_with_a_warning_first(dear, user, stub_model):
    dear.AGENT_COST_BUDGET_DAILY = Decimal("1.00")
    stub_model.queue(
        ToolCalls([("calculate", {"expression": "2+2"})], usage=(89_000, 10_000)),  # $0.99: past 80 %
        Text("It is 4.", usage=(10, 5)),  # never asked for: its prompt (~1470 tokens, $0.0147) would pass $1.00
    )
    run = run_message(user, "what is 2+2?")
    assert len(stub_model.requests) == 1, "the call that would pass the budget was made"
    assert run.status == Run.Status.FAILED and run.error_code == "cost_budget_exceeded"
    events = stored_events(run)
    kinds = [event["type"] for event in events]
    assert kinds.count("budget_warning") == 1
    warning = events[kinds.index("budget_warning")]
    assert warning["scope"] == "user_daily"
    assert Decimal(str(warning["used_usd"])) == Decimal("0.99") and warning["limit_usd"] == 1.0
    assert kinds.index("tool_result") < kinds.index("error") and kinds.index("budget_warning") < kinds.index("error")
    assert events[kinds.index("error")]["code"] == "cost_budget_exceeded" and kinds[-1] == "done"
    assert events[-1]["status"] == "failed"
    assert run.cost_usd == Decimal("0.99")
    assert ChatSession.objects.get(pk=run.session_id).cost_usd == Decimal("0.99"), "a run without answer counts too"
    assert costs.user_spent_today(user_id=user.pk) == Decimal("0.99"), "nothing stays reserved"


def test_the_daily_budget_refuses_a_message_at_admission_until_midnight_utc(dear, user, stub_model, asgi_live_server):
    dear.AGENT_COST_BUDGET_DAILY = Decimal("0.50")
    dear.AGENT_TOKEN_BUDGET = 10**9  # the dollars, not the tokens, are what runs out here
    stub_model.queue(Text("Expensive.", usage=(30_000, 30_000)))  # $0.60, more than the whole budget
    first = run_message(user, "hi")
    assert first.cost_usd == Decimal("0.6")

    client = asgi_live_server.client(user)
    with client.send("and again") as stream:
        body = stream.json()
        status, headers = stream.response.status_code, stream.response.headers
    assert status == 429 and body["error"]["code"] == "cost_budget_exceeded"
    midnight = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    expected = (midnight - datetime.now(UTC)).total_seconds()
    assert abs(int(headers["Retry-After"]) - expected) <= 5
    assert Run.objects.filter(user=user).count() == 1, "nothing was stored"

    # The database is the truth: a cache that lost the day's count (a restart) is seeded from it.
    from django.core.cache import cache

    cache.clear()
    with pytest.raises(CostBudgetExceeded):
        admission.run_accept(user=user, message="one more")
    assert len(stub_model.requests) == 1


def test_racing_admissions_cannot_both_take_the_last_of_the_budget(dear, user):
    dear.AGENT_COST_BUDGET_DAILY = Decimal("0.001")
    message = "x" * 320  # 80 tokens estimated: $0.0008 held by each admission
    hold = costs.admission_hold(user_id=user.pk, message=message)
    with pytest.raises(CostBudgetExceeded):
        costs.admission_hold(user_id=user.pk, message=message)
    costs.admission_release(hold)
    costs.admission_hold(user_id=user.pk, message=message)


# --- Per-run caps ----------------------------------------------------------------------------


def test_the_run_cost_cap_stops_a_plan_before_its_executors_call_the_model(dear, user, stub_model):
    dear.AGENT_RUN_MAX_COST = Decimal("0.05")
    routing = plan("Two things", [("x", "Do x"), ("y", "Do y")])
    routing.usage = (3500, 900)  # $0.044 of $0.05: the warning; an executor's prompt (~$0.007) passes the cap
    stub_model.queue(routing)
    run = run_message(user, "do two things")
    assert len(stub_model.requests) == 1
    assert run.status == Run.Status.FAILED and run.error_code == "run_cost_limit"
    events = stored_events(run)
    kinds = [event["type"] for event in events]
    warning = events[kinds.index("budget_warning")]
    assert warning["scope"] == "run" and warning["limit_usd"] == 0.05
    assert kinds.index("budget_warning") < kinds.index("error")
    assert {e["status"] for e in events if e["type"] == "executor_result"} <= {"failed"}
    assert not Execution.objects.filter(run=run, llm_calls__gt=0).exists()
    assert run.cost_usd == Decimal("0.044")


def test_the_run_token_cap_stops_the_call_that_would_pass_it(settings, user, stub_model):
    settings.AGENT_RUN_MAX_TOKENS = 5000
    # 4000 tokens used; the next call's prompt (~1470 tokens estimated) would pass 5000.
    stub_model.queue(ToolCalls([("calculate", {"expression": "1+1"})], usage=(3000, 1000)), Text("2"))
    run = run_message(user, "1+1?")
    assert len(stub_model.requests) == 1
    assert run.status == Run.Status.FAILED and run.error_code == "run_token_limit"
    assert run.total_tokens == 4000
    assert "AGENT_RUN_MAX_TOKENS" in run.error_message


# --- Across processes ---------------------------------------------------------------------------

RACER = """
import json, os, sys, time
import django
django.setup()
from agents.exceptions import CostBudgetExceeded
from agents.runs import costs
user_id, start_at = int(sys.argv[1]), float(sys.argv[2])
while time.time() < start_at:
    time.sleep(0.001)
taken = 0
for _ in range(10):
    try:
        costs.admission_hold(user_id=user_id, message="x" * 400)
        taken += 1
    except CostBudgetExceeded:
        pass
print(json.dumps({"taken": taken}))
"""


def test_two_processes_share_the_daily_budget_through_redis(user):
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"
    user_id = 10**9 + uuid.uuid4().int % 10**6  # a user of its own in the shared Redis database
    env = platform_env(
        redis_db=None,
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX=f"cost-test-{uuid.uuid4().hex[:8]}",
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        PLANNER_MODEL="dear-model",
        AGENT_PRICES=json.dumps({"dear-model": {"input": 1000, "output": 1000}}),  # $0.001 a token
        AGENT_COST_BUDGET_DAILY="1.00",
    )
    start_at = __import__("time").time() + 3  # both processes are up by then; they race from the same moment
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(user_id), str(start_at)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    taken = []
    for racer in racers:
        out, err = racer.communicate(timeout=60)
        assert racer.returncode == 0, err
        taken.append(json.loads(out.strip().splitlines()[-1])["taken"])
    # Each hold is 100 tokens of the message at $0.001: $0.10 of $1.00; 20 tries, exactly 10 fit.
    assert sum(taken) == 10, taken
    day_key = f"{env['CACHE_KEY_PREFIX']}:1:agent-cost-day:{user_id}:{datetime.now(UTC):%Y%m%d}"
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    assert int(client.get(day_key)) == 10 * costs.to_units(Decimal("0.10"))
    client.delete(day_key)


def test_counter_units_round_up_never_down():
    assert costs.to_units(Decimal("0.00000000001")) == 1
    assert costs.to_usd(costs.to_units(Decimal("1.2345678901"))) == Decimal("1.2345678901")
    assert math.isclose(float(costs.to_usd(10**10)), 1.0)
