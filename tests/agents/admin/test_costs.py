"""The admin's per-user cost summary."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.admin.costs import user_costs
from agents.models import Run
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def spend(user, usd: str, *, days_ago: int = 0, known: bool = True, tokens: int = 100) -> Run:
    run = make_run(user)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.COMPLETED,
        cost_usd=Decimal(usd),
        cost_known=known,
        total_tokens=tokens,
        created_at=timezone.now() - timedelta(days=days_ago),
    )
    return run


def test_users_are_summed_today_this_month_and_in_all_dearest_first(make_user):
    alice, bob, idle = make_user("alice"), make_user("bob"), make_user("idle")
    spend(alice, "0.25")
    spend(alice, "1.50", days_ago=400, known=False)
    spend(bob, "0.75")
    spend(bob, "0.05")
    rows = {row.username: row for row in user_costs()}
    assert set(rows) == {"alice", "bob"} and idle.username not in rows
    assert [row.username for row in user_costs()] == ["bob", "alice"]  # this month: 0.80 > 0.25
    assert (rows["bob"].run_count, rows["bob"].token_count) == (2, 200)
    assert rows["bob"].cost_today == rows["bob"].cost_month == rows["bob"].cost_total == Decimal("0.80")
    assert (rows["alice"].cost_today, rows["alice"].cost_total) == (Decimal("0.25"), Decimal("1.75"))
    assert (rows["alice"].unpriced_runs, rows["bob"].unpriced_runs) == (1, 0)


def test_the_page_is_for_staff(client, make_user):
    spend(make_user("alice"), "0.125")
    response = client.get("/admin/agents/run/costs/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    response = client.get("/admin/agents/run/costs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Cost by user" in page and "alice" in page and "0.125000" in page
