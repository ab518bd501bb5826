"""What operators read: ``GET /metrics`` (Prometheus) and ``GET /api/stats/`` (staff, JSON).

``/metrics`` answers a ``Authorization: Bearer <METRICS_TOKEN>`` scraper, or a
staff user (session or API token); anyone else gets the JSON 401 or 403.
Counters and histograms come from ``agents.telemetry.metrics`` (added up
over every process with ``PROMETHEUS_MULTIPROC_DIR``); what the database
knows is read from it at each scrape, the same from every process.
"""

import hmac
import os
from datetime import timedelta

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.http import streams
from agents.models import Run
from agents.runs import usage
from agents.runtime.worker import owner_name
from agents.telemetry import metrics
from agents_platform.schema import DRF_NOT_AUTHENTICATED, error_responses


def bearer_matches(request) -> bool:
    """Return whether the request carries ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time)."""
    token = settings.METRICS_TOKEN
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


class MetricsReader(BasePermission):
    """The metrics scraper's bearer token, or a staff user; 401 for nobody, 403 for a non-staff user."""

    def has_permission(self, request, view) -> bool:
        if bearer_matches(request):
            return True
        if not (request.user and request.user.is_authenticated):
            raise NotAuthenticated()
        if not request.user.is_staff:
            raise PermissionDenied("Only staff and the metrics scraper (METRICS_TOKEN) may read metrics.")
        return True


class DatabaseCollector:
    """Gauges the database knows, read at scrape time: the same from every process and machine."""

    def collect(self):
        by_status = usage.runs_by_status()
        active = GaugeMetricFamily("agents_runs_active", "Runs not yet ended, by status.", labels=["status"])
        for status in Run.ACTIVE_STATUSES:
            active.add_metric([status], by_status[status])
        yield active
        yield GaugeMetricFamily("agents_runs_queued", "Runs waiting for a worker.", value=by_status[Run.Status.QUEUED])
        yield GaugeMetricFamily(
            "agents_approvals_waiting",
            "Runs waiting for a user's decision (an approval).",
            value=by_status[Run.Status.WAITING],
        )
        workers = GaugeMetricFamily("agents_workers_live", "Worker processes alive now, by kind.", labels=["kind"])
        live = usage.workers_with_runs(within_seconds=settings.AGENT_LEASE_SECONDS)
        for kind in ("thread", "celery"):
            workers.add_metric([kind], sum(1 for worker in live if worker["kind"] == kind))
        yield workers


class _ProcessCollector:
    """This process's own registry, inside the scrape's registry (one process, no PROMETHEUS_MULTIPROC_DIR)."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape() -> bytes:
    """Return every metric in the Prometheus text format."""
    registry = CollectorRegistry()
    if metrics.MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessCollector())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


@extend_schema(exclude=True)  # Prometheus text, not JSON: documented in the README
class MetricsApi(APIView):
    """Prometheus metrics of the platform."""

    permission_classes = [MetricsReader]

    def get(self, request):
        return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)


def open_streams_everywhere() -> int | None:
    """Return the open streams of every process (multiprocess mode), or None when only this process is known."""
    if not metrics.MULTIPROCESS:
        return None
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    value = registry.get_sample_value("agents_open_streams")
    return int(value) if value is not None else 0


class StatsTotalsSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    llm_calls = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=20, decimal_places=10, coerce_to_string=False)
    cost_known = serializers.BooleanField()


class StatsModelSerializer(StatsTotalsSerializer):
    model = serializers.CharField()


class StatsLastHourSerializer(StatsTotalsSerializer):
    by_model = StatsModelSerializer(many=True)


class StatsWorkerSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="host:pid:nonce")
    kind = serializers.CharField()
    concurrency = serializers.IntegerField()
    draining = serializers.BooleanField()
    beat_at = serializers.DateTimeField()
    running_runs = serializers.IntegerField(help_text="Runs this process holds now.")


class StatsStreamsSerializer(serializers.Serializer):
    this_process = serializers.IntegerField(help_text="Streams served by the process that answered.")
    all_processes = serializers.IntegerField(
        allow_null=True, help_text="Every process of this machine (PROMETHEUS_MULTIPROC_DIR); null without it."
    )


class StatsRunsSerializer(serializers.Serializer):
    by_status = serializers.DictField(child=serializers.IntegerField())
    queued = serializers.IntegerField()
    oldest_queued_at = serializers.DateTimeField(allow_null=True)


class StatsProcessSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The answering process, host:pid:nonce.")
    pid = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    open_streams = StatsStreamsSerializer()
    runs = StatsRunsSerializer()
    workers = StatsWorkerSerializer(many=True, help_text="Live worker processes.")
    live_workers = serializers.IntegerField()
    last_hour = StatsLastHourSerializer(help_text="Tokens and dollars of every user's calls in the last hour.")
    process = StatsProcessSerializer()


@extend_schema(
    tags=["operations"],
    responses={200: StatsSerializer, **error_responses({401: DRF_NOT_AUTHENTICATED, 403: ("permission_denied",)})},
)
class StatsApi(APIView):
    """Staff only: open streams, runs by status, queued runs, live workers, tokens and dollars in the last hour."""

    permission_classes = [IsAdminUser]

    def get(self, request):
        by_status = usage.runs_by_status()
        workers = usage.workers_with_runs(within_seconds=settings.AGENT_LEASE_SECONDS)
        body = {
            "open_streams": {"this_process": streams.open_streams(), "all_processes": open_streams_everywhere()},
            "runs": {
                "by_status": by_status,
                "queued": by_status[Run.Status.QUEUED],
                "oldest_queued_at": usage.oldest_queued_at(),
            },
            "workers": workers,
            "live_workers": len(workers),
            "last_hour": usage.platform_usage_since(since=timezone.now() - timedelta(hours=1)),
            "process": {"name": owner_name(), "pid": os.getpid()},
        }
        return Response(StatsSerializer(body).data)
