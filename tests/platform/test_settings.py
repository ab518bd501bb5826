"""Settings fail at start with a message naming the bad variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start_with(**env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "agents_platform.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LLM_PROVIDER", "banana"),
        ("OPENAI_BASE_URL", "not a url"),
        ("AGENT_RATE_LIMIT", "lots"),
        ("AGENT_RATE_LIMIT", "20/0m"),
        ("LOGIN_FAILURE_LIMIT", "5 per 15 minutes"),
        ("WEB_CONCURRENCY", "0"),
        ("LLM_TIMEOUT", "nan"),
        ("AGENT_LEASE_SECONDS", "inf"),
        ("AGENT_LEASE_SECONDS", "0"),
        ("AGENT_MAX_ATTEMPTS", "0"),
        ("AGENT_DRAIN_SECONDS", "-1"),
        ("AGENT_RUNNER", "rabbits"),
        ("CELERY_BROKER_URL", "http://127.0.0.1:5672"),
        ("AGENT_TOKEN_BUDGET", "-5"),
        ("AGENT_MAX_PLAN_STEPS", "eight"),
        ("LLM_TIMEOUT", "0"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("DJANGO_DEBUG", "maybe"),
        ("AGENT_PRICES", "not json"),
        ("AGENT_PRICES", '["gpt-4o"]'),
        ("AGENT_PRICES", '{"m": {"input": 1}}'),
        ("AGENT_PRICES", '{"m": {"input": 1, "output": -2}}'),
        ("AGENT_PRICES", '{"m": {"input": 1, "output": "2"}}'),
        ("AGENT_PRICES", '{"m": {"input": 1, "output": 2, "cache": 1}}'),
        ("AGENT_COST_BUDGET_DAILY", "five"),
        ("AGENT_COST_BUDGET_DAILY", "0"),
        ("AGENT_RUN_MAX_COST", "-1"),
        ("AGENT_RUN_MAX_COST", "NaN"),
        ("AGENT_RUN_MAX_TOKENS", "0"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "sometimes"),
        ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/metrics-dir"),
    ],
)
def test_bad_value_fails_at_start_naming_the_variable(name, value):
    result = start_with(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_a_pool_too_small_for_a_run_fails_at_start_naming_the_settings():
    result = start_with(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/x", DATABASE_POOL_MAX="3", AGENT_MAX_PARALLEL_EXECUTORS="4"
    )
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr
    assert "DATABASE_POOL_MAX" in result.stderr and "AGENT_MAX_PARALLEL_EXECUTORS" in result.stderr
    fits = start_with(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/x", DATABASE_POOL_MAX="5", AGENT_MAX_PARALLEL_EXECUTORS="4"
    )
    assert fits.returncode == 0, fits.stderr


def test_the_celery_runner_needs_a_broker():
    result = start_with(AGENT_RUNNER="celery")
    assert result.returncode != 0
    assert "CELERY_BROKER_URL" in result.stderr and "REDIS_URL" in result.stderr


def test_debug_off_requires_secret_key():
    result = start_with(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_defaults_start_cleanly():
    result = start_with()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["DATABASE_URL", "REDIS_URL"])
def test_bad_url_error_does_not_print_the_password(name):
    result = start_with(**{name: "nosuch://admin:hunter2secret@db.internal:5432/x"})
    assert result.returncode != 0 and name in result.stderr
    assert "hunter2secret" not in result.stderr
