"""``check --deploy`` warns when the limits live in one process's memory while several processes serve."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from agents.checks import check_limits_are_shared

ROOT = Path(__file__).resolve().parents[2]
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}


@pytest.mark.parametrize(
    ("caches", "web_concurrency", "runner", "warns"),
    [
        (LOCMEM, 1, "thread", False),  # the embedded default: one process
        (LOCMEM, 4, "thread", True),
        (LOCMEM, 1, "celery", True),
        (LOCMEM, 1, "myproject.runners.CeleryRunner", True),
        (REDIS, 4, "celery", False),  # shared: every process sees the same limits
    ],
)
def test_w001_fires_only_for_a_per_process_cache_with_several_processes(
    settings, caches, web_concurrency, runner, warns
):
    settings.CACHES = caches
    settings.WEB_CONCURRENCY = web_concurrency
    settings.AGENT_RUNNER = runner
    messages = check_limits_are_shared()
    assert [message.id for message in messages] == (["agents.W001"] if warns else [])
    if warns:
        assert "REDIS_URL" in messages[0].hint


def deploy_check(**env: str) -> subprocess.CompletedProcess:
    """Run the Makefile's ``check --deploy --fail-level WARNING`` with its production-like variables."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY"}}
    clean.update(
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="agents.example.com",
        DJANGO_SECRET_KEY=f"check-deploy-{secrets.token_hex(48)}",
        **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_makefile_deploy_check_passes_and_several_web_processes_without_redis_fail_it():
    assert deploy_check().returncode == 0
    several = deploy_check(WEB_CONCURRENCY="3")
    assert several.returncode != 0
    assert "agents.W001" in several.stderr and "WEB_CONCURRENCY=3" in several.stderr
