"""GET /metrics (Prometheus) and GET /api/stats/ (staff): who may read them, and that they move with a run."""

import subprocess
import sys

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agents.models import Run, WorkerProcess
from agents.runs import services
from agents.runtime.worker import execute_run
from tests.support.processes import ROOT
from tests.support.stub_model import Text, ToolCalls

pytestmark = pytest.mark.django_db(transaction=True)

METRICS_TOKEN = "scrape-me-0123456789"


@pytest.fixture
def scraper(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    return client


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_with_a_run(scraper, user, stub_model):
    before = scrape(scraper)
    stub_model.queue(ToolCalls([("calculate", {"expression": "2+2"})], usage=(100, 10)), Text("4", usage=(120, 2)))
    run, _ = services.run_create(user=user, message="2+2?")
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    after = scrape(scraper)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("agents_runs_total", route="tool", status="completed") == 1
    assert moved("agents_run_duration_seconds_count", route="tool", status="completed") == 1
    assert moved("agents_llm_calls_total", model="gpt-4o-mini", role="planner", outcome="ok") == 2
    assert moved("agents_llm_tokens_total", model="gpt-4o-mini", role="planner", kind="prompt") == 220
    assert moved("agents_llm_tokens_total", model="gpt-4o-mini", role="planner", kind="completion") == 12
    assert moved("agents_llm_cost_usd_total", model="gpt-4o-mini", role="planner") == pytest.approx(float(run.cost_usd))
    assert moved("agents_llm_call_duration_seconds_count", model="gpt-4o-mini", role="planner") == 2
    assert moved("agents_llm_time_to_first_token_seconds_count", model="gpt-4o-mini", role="planner") == 2
    assert moved("agents_tool_calls_total", tool="calculate", outcome="ok") == 1
    # Read from the database at the scrape.
    assert value(after, "agents_runs_queued") == 0
    assert ("agents_open_streams", ()) in after


def test_metrics_gauges_read_the_database(scraper, user):
    from tests.factories import make_run

    make_run(user)  # queued, never executed
    WorkerProcess.objects.create(name="host:1:abc", kind="celery", concurrency=4, beat_at=timezone.now())
    samples = scrape(scraper)
    assert value(samples, "agents_runs_queued") == 1
    assert value(samples, "agents_runs_active", status="queued") == 1
    assert value(samples, "agents_workers_live", kind="celery") == 1


def test_metrics_refuse_anonymous_non_staff_and_a_wrong_token(settings, user, make_user):
    settings.METRICS_TOKEN = METRICS_TOKEN
    anonymous = APIClient()
    response = anonymous.get("/metrics")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.get("/metrics").status_code == 401
    member = APIClient()
    member.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    response = member.get("/metrics")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    staff = APIClient()
    staff.force_login(make_user("operator", is_staff=True))
    assert staff.get("/metrics").status_code == 200


def test_without_a_metrics_token_only_staff_read_metrics(settings, make_user):
    settings.METRICS_TOKEN = None
    guess = APIClient()
    guess.credentials(HTTP_AUTHORIZATION="Bearer ")
    assert guess.get("/metrics").status_code == 401
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user('op', is_staff=True)).key}")
    assert staff.get("/metrics").status_code == 200


MULTIPROCESS_CHILD = """
import sys
import django
django.setup()
from agents.telemetry import metrics
metrics.llm_call(model="m", role="planner", outcome="ok", latency_ms=10, first_token_ms=5, prompt_tokens=7,
                 completion_tokens=3, cached_tokens=0, cost_usd=0.25, cost_known=True)
metrics.streams_changed(int(sys.argv[1]))
"""

MULTIPROCESS_SCRAPE = """
import django
django.setup()
from prometheus_client import multiprocess, CollectorRegistry, generate_latest
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print(generate_latest(registry).decode())
"""


def test_several_processes_add_up_through_the_multiprocess_directory(tmp_path):
    import os

    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "agents_platform.settings",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    for streams in (1, 2):
        child = subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_CHILD, str(streams)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert child.returncode == 0, child.stderr
    scraped = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRAPE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert scraped.returncode == 0, scraped.stderr
    samples = {}
    for family in text_string_to_metric_families(scraped.stdout):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    assert value(samples, "agents_llm_calls_total", model="m", role="planner", outcome="ok") == 2
    assert value(samples, "agents_llm_tokens_total", model="m", role="planner", kind="prompt") == 14
    assert value(samples, "agents_llm_cost_usd_total", model="m", role="planner") == pytest.approx(0.5)
    # Streams are a live sum: processes that exited count no more.
    assert value(samples, "agents_open_streams") == 0


# --- /api/stats/ -----------------------------------------------------------------------


def test_stats_are_for_staff_only(user, make_user):
    assert APIClient().get("/api/stats/").status_code == 401
    member = APIClient()
    member.force_authenticate(user)
    response = member.get("/api/stats/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_stats_show_runs_workers_streams_and_the_last_hour(user, make_user, stub_model):
    stub_model.queue(Text("Hi.", usage=(40, 2)))
    run, _ = services.run_create(user=user, message="hi")
    execute_run(run.pk)
    from tests.factories import make_run

    make_run(user)  # a queued one
    worker = WorkerProcess.objects.create(name="host:7:abc", kind="celery", concurrency=2, beat_at=timezone.now())
    held = make_run(make_user("bob"))
    Run.objects.filter(pk=held.pk).update(status=Run.Status.RUNNING, owner=worker.name)
    staff = APIClient()
    staff.force_authenticate(make_user("operator", is_staff=True))
    body = staff.get("/api/stats/").json()
    assert body["runs"]["by_status"]["completed"] == 1 and body["runs"]["queued"] == 1
    assert body["runs"]["by_status"]["running"] == 1
    assert body["runs"]["oldest_queued_at"]
    assert set(body["runs"]["by_status"]) == set(Run.Status.values)
    assert body["open_streams"]["this_process"] == 0 and body["open_streams"]["all_processes"] is None
    assert body["live_workers"] == len(body["workers"]) >= 1
    listed = {row["name"]: row for row in body["workers"]}
    assert listed[worker.name]["running_runs"] == 1 and listed[worker.name]["kind"] == "celery"
    hour = body["last_hour"]
    assert (hour["prompt_tokens"], hour["completion_tokens"], hour["llm_calls"]) == (40, 2, 1)
    assert hour["cost_usd"] == pytest.approx(float(Run.objects.get(pk=run.pk).cost_usd))
    assert [row["model"] for row in hour["by_model"]] == ["gpt-4o-mini"]
    assert body["process"]["pid"] > 0
