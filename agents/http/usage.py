"""``GET /api/usage/``: the user's tokens and dollars today and this month, the daily budget, per-day rows."""

from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.exceptions import InvalidInput
from agents.runs import usage
from agents.runs.selectors import day_bounds
from agents_platform.schema import DRF_NOT_AUTHENTICATED, error_responses

DEFAULT_DAYS = 30
MAX_DAYS = 90


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=10, coerce_to_string=False, **kwargs)


class UsageTotalsSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField(help_text="Of the prompt tokens, those served from a prompt cache.")
    total_tokens = serializers.IntegerField()
    llm_calls = serializers.IntegerField()
    cost_usd = _money(help_text="US dollars.")
    cost_known = serializers.BooleanField(help_text="False when some call's model had no known price (counted as 0).")


class UsageDaySerializer(UsageTotalsSerializer):
    date = serializers.DateField(help_text="The UTC day.")


class UsageBudgetSerializer(serializers.Serializer):
    daily_usd = _money(allow_null=True, help_text="AGENT_COST_BUDGET_DAILY; null when no daily budget is set.")
    used_today_usd = _money()
    remaining_today_usd = _money(allow_null=True, help_text="Null when no daily budget is set.")
    resets_at = serializers.DateTimeField(help_text="The next midnight UTC.")
    run_max_usd = _money(allow_null=True, help_text="AGENT_RUN_MAX_COST; null when unset.")
    run_max_tokens = serializers.IntegerField(help_text="AGENT_RUN_MAX_TOKENS.")


class UserUsageSerializer(serializers.Serializer):
    today = UsageDaySerializer()
    month = UsageTotalsSerializer(help_text="This UTC calendar month so far.")
    budget = UsageBudgetSerializer()
    days = UsageDaySerializer(many=True, help_text="One row per UTC day, newest first, today included.")


@extend_schema(
    tags=["usage"],
    parameters=[
        OpenApiParameter(
            "days",
            {"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
            OpenApiParameter.QUERY,
            description=f"Days of rows (1..{MAX_DAYS}, default 30).",
        )
    ],
    responses={200: UserUsageSerializer, **error_responses({400: ("invalid_days",), 401: DRF_NOT_AUTHENTICATED})},
)
class UsageApi(APIView):
    """Your usage: tokens and dollars today and this month, your daily budget and what is left, per-day rows."""

    def get(self, request):
        days = _days(request.query_params.get("days"))
        now = datetime.now(UTC)
        today = now.date()
        _, tomorrow = day_bounds(today)
        month_start = datetime.combine(today.replace(day=1), time.min, tzinfo=UTC)
        rows = usage.user_usage_by_day(user=request.user, first_day=today - timedelta(days=days - 1), last_day=today)
        month = usage.user_usage_between(user=request.user, start=month_start, end=tomorrow)
        budget = settings.AGENT_COST_BUDGET_DAILY
        used = rows[0]["cost_usd"]
        body = {
            "today": rows[0],
            "month": month,
            "budget": {
                "daily_usd": budget,
                "used_today_usd": used,
                "remaining_today_usd": None if budget is None else max(budget - used, 0),
                "resets_at": tomorrow,
                "run_max_usd": settings.AGENT_RUN_MAX_COST,
                "run_max_tokens": settings.AGENT_RUN_MAX_TOKENS,
            },
            "days": rows,
        }
        return Response(UserUsageSerializer(body).data)


def _days(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        message = f"Must be a whole number from 1 to {MAX_DAYS}."
        raise InvalidInput(f"Invalid parameter 'days': {message}", code="invalid_days", fields={"days": [message]})
    return days
