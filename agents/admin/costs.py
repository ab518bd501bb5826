"""The admin's per-user cost summary: what each user spent today, this month and in all, with their runs.

Served at ``/admin/agents/run/costs/`` (``RunAdmin.get_urls``), staff only like
the rest of the admin; sums of the stored runs, by user, dearest this month first.
"""

from datetime import UTC, datetime, time

from django.contrib.auth import get_user_model
from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from agents.models import COST_DIGITS, COST_PLACES

USERS_SHOWN = 200


def _dollars(condition: Q | None = None):
    field = DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES)
    return Coalesce(Sum("agent_runs__cost_usd", filter=condition), Value(0), output_field=field)


def user_costs(*, now: datetime | None = None) -> list:
    """Return the users who have runs, with runs, tokens and dollars today, this month and in all."""
    now = now or datetime.now(UTC)
    today = datetime.combine(now.date(), time.min, tzinfo=UTC)
    month = today.replace(day=1)
    return list(
        get_user_model()
        .objects.filter(agent_runs__isnull=False)
        .annotate(
            run_count=Count("agent_runs"),
            token_count=Coalesce(Sum("agent_runs__total_tokens"), Value(0)),
            cost_today=_dollars(Q(agent_runs__created_at__gte=today)),
            cost_month=_dollars(Q(agent_runs__created_at__gte=month)),
            cost_total=_dollars(),
            unpriced_runs=Count("agent_runs", filter=Q(agent_runs__cost_known=False)),
        )
        .order_by("-cost_month", "-cost_total", "pk")[:USERS_SHOWN]
    )


def cost_summary_view(model_admin, request: HttpRequest) -> TemplateResponse:
    """Render the summary inside the admin's layout."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Cost by user",
        "opts": model_admin.model._meta,
        "rows": user_costs(),
        "runs_url": reverse("admin:agents_run_changelist"),
        "limit": USERS_SHOWN,
    }
    return TemplateResponse(request, "admin/agents/run/cost_summary.html", context)
