"""GET /api/usage/: the user's tokens and dollars today, this month and per day; the budget and what is left."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from agents.models import AgentMessage
from tests.factories import run_message
from tests.support.stub_model import Text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def priced(settings):
    settings.AGENT_PRICES = {"ten": {"input": Decimal(10), "output": Decimal(10), "cached_input": Decimal(5)}}
    settings.PLANNER_MODEL = settings.EXECUTOR_MODEL = "ten"
    return settings


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_usage_counts_today_this_month_and_each_day(priced, user, other_user, stub_model):
    priced.AGENT_COST_BUDGET_DAILY = Decimal("2.00")
    priced.AGENT_RUN_MAX_COST = Decimal("0.50")
    stub_model.queue(Text("One.", usage=(1000, 200)), Text("Two.", usage=(3000, 400, 2000)), Text("Theirs."))
    first, second = run_message(user, "one"), run_message(user, "two")
    run_message(other_user, "not mine")
    # A call stored three days ago counts in its own day's row (and in the month when it is this month).
    earlier = AgentMessage.objects.filter(run=first, role="assistant").get()
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    AgentMessage.objects.filter(pk=earlier.pk).update(created_at=three_days_ago)

    body = client_for(user).get("/api/usage/").json()
    today = body["today"]
    assert today["date"] == datetime.now(UTC).date().isoformat()
    assert (today["prompt_tokens"], today["completion_tokens"], today["cached_tokens"]) == (3000, 400, 2000)
    assert (today["total_tokens"], today["llm_calls"]) == (3400, 1)
    # (1000 uncached * $10 + 2000 cached * $5 + 400 * $10) per million.
    assert Decimal(str(today["cost_usd"])) == second.cost_usd == Decimal("0.024")
    assert today["cost_known"] is True
    assert len(body["days"]) == 30 and body["days"][0] == today
    assert [row["date"] for row in body["days"][:4]] == [
        (datetime.now(UTC).date() - timedelta(days=n)).isoformat() for n in range(4)
    ]
    assert Decimal(str(body["days"][3]["cost_usd"])) == first.cost_usd == Decimal("0.012")
    assert body["days"][1]["llm_calls"] == 0 and body["days"][1]["cost_usd"] == 0
    month = body["month"]
    in_month = three_days_ago.month == datetime.now(UTC).month
    assert month["llm_calls"] == (2 if in_month else 1)
    assert Decimal(str(month["cost_usd"])) == (Decimal("0.036") if in_month else Decimal("0.024"))
    budget = body["budget"]
    assert budget["daily_usd"] == 2.0 and budget["used_today_usd"] == 0.024
    assert Decimal(str(budget["remaining_today_usd"])) == Decimal("1.976")
    assert budget["run_max_usd"] == 0.5 and budget["run_max_tokens"] == priced.AGENT_RUN_MAX_TOKENS
    midnight = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    assert datetime.fromisoformat(budget["resets_at"].replace("Z", "+00:00")) == midnight


def test_usage_without_a_budget_and_with_fewer_days(user):
    body = client_for(user).get("/api/usage/?days=3").json()
    assert len(body["days"]) == 3
    assert body["budget"]["daily_usd"] is None and body["budget"]["remaining_today_usd"] is None
    assert body["today"]["llm_calls"] == 0 and body["today"]["cost_known"] is True


@pytest.mark.parametrize("days", ["0", "91", "-1", "lots", "2.5"])
def test_usage_days_must_be_1_to_90(user, days):
    response = client_for(user).get(f"/api/usage/?days={days}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_days" and "days" in response.json()["error"]["fields"]


def test_usage_needs_a_user():
    assert APIClient().get("/api/usage/").status_code == 401
