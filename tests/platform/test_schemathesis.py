"""Schemathesis against the live server: the OpenAPI schema and the server agree.

Schemathesis generates requests from ``/api/schema/`` (valid ones and invalid
ones), sends them to uvicorn serving the project, and checks every response
with all of its checks: no 500, every status and error code documented, bodies
and headers as described, valid input accepted, invalid input refused, auth
enforced, one user's objects invisible to another, deleted objects gone, and
our own checks (``schemathesis_hooks.py``: every SSE event a ``RunEvent`` of the
schema). ``schemathesis.toml`` holds what the run is told beyond the schema.

Every operation is tested, the streams too: ``POST /api/agent/stream`` starts
real runs, which the offline model (the default ``LLM_PROVIDER``) finishes in
milliseconds, so its responses are whole streams up to ``done``.

The run is bounded (``MAX_EXAMPLES`` per operation and phase, a fixed seed) to
cost well under a minute. By hand, against ``make run`` and any number of
examples::

    SCHEMATHESIS_HOOKS=tests/platform/schemathesis_hooks.py .venv/bin/st \\
        --config-file tests/platform/schemathesis.toml run http://127.0.0.1:8000/api/schema/ \\
        --checks all -H "Authorization: Token <key>" --max-examples 200
"""

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db(transaction=True)

HERE = Path(__file__).parent
CONFIG = HERE / "schemathesis.toml"
# The session feed never ends while its session exists (it is a subscription): a fuzzer that reads
# each response to its end would wait forever. tests/agents/http/test_session_feed.py covers its answers.
# The AG-UI and AI SDK streams speak other protocols: their frames are checked by those protocols' own
# clients and schemas (tests/node/, run by tests/agents/http/test_agui.py and test_aisdk.py), which also test
# their error answers; this fuzzer would judge their bodies by the wrong definition.
NOT_FUZZED = (
    "sessions_stream_retrieve",
    "ag_ui_run",
    "ag_ui_runs_retrieve",
    "ai_sdk_chat",
    "ai_sdk_chat_stream_retrieve",
)
HOOKS = HERE / "schemathesis_hooks.py"
MAX_EXAMPLES = 15
SEED = 20261129  # fixed: the same generated inputs every run; change it to explore others
RUN_TIMEOUT = 60  # seconds: the cap; a healthy run takes 15 to 20


def _seed_history(server, user) -> str:
    """Give the user a session with a finished run, so lists have items; return the run's id."""
    with server.client(user).send("hello") as stream:
        assert stream.status_code == 200
        events = stream.events()
    assert events[-1]["type"] == "done"
    return events[-1]["run_id"]


def _config(tmp_path: Path, users, run_ids: list[str]) -> Path:
    """Return schemathesis.toml plus this run's identities and run ids.

    Identities: the first user sends every request; both are peers, so the
    ownership check replays the first user's reads as the second (who must get
    404). Run ids: random UUIDs only ever reach the 404 of the run endpoints, so
    half the ``run_id`` paths are drawn from the seeded runs (one per user).
    """
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps(_identities(users)))
    names = [user.username for user in users]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        CONFIG.read_text()
        + f"\n[auth.wfc]\npath = {json.dumps(str(auth_file))}\nuser = {json.dumps(names[0])}\n"
        + f"peers = {json.dumps(names)}\n"
        + f"\n[dictionaries.run-ids]\nvalues = {json.dumps(run_ids)}\n"
        + '\n[parameters]\n"path.run_id" = { dictionary = "run-ids", probability = 0.5 }\n'
    )
    return config


def _identities(users) -> dict:
    """Return a Web Fuzzing Commons auth document: one DRF token per user (two, for the ownership check)."""
    auth = []
    for user in users:
        token, _ = Token.objects.get_or_create(user=user)
        auth.append({"name": user.username, "fixedHeaders": [{"name": "Authorization", "value": f"Token {token.key}"}]})
    return {"auth": auth}


def test_schemathesis_finds_nothing(asgi_live_server, user, other_user, settings, tmp_path, caplog):
    # The fuzzer sends hundreds of messages a minute: the rate and budget limits would answer most
    # of them 429 (documented, but then the runs behind them go untested). Limits have their own tests.
    settings.AGENT_RATE_LIMIT = "100000/m"
    settings.AGENT_TOKEN_BUDGET = 100_000_000
    settings.LLM_PROVIDER = "offline"
    # Hundreds of 4xx by design: keep the log (shown when the test fails) to the errors.
    caplog.set_level(logging.ERROR, logger="django.request")
    run_ids = [_seed_history(asgi_live_server, owner) for owner in (user, other_user)]
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(_config(tmp_path, [user, other_user], run_ids)),
        "--no-color",
        "run",
        f"{asgi_live_server.url}/api/schema/",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        # One regex: given several times, --exclude-operation-id keeps only the last.
        "--exclude-operation-id-regex",
        f"^({'|'.join(NOT_FUZZED)})$",
    ]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command,
            cwd=tmp_path,
            # Only what it needs: no proxy variables between it and 127.0.0.1.
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(tmp_path),
                "PYTHONIOENCODING": "utf-8",
                "SCHEMATHESIS_HOOKS": str(HOOKS),
            },
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as timeout:
        partial = timeout.stdout.decode("utf-8", "replace") if isinstance(timeout.stdout, bytes) else timeout.stdout
        pytest.fail(f"Schemathesis ran over {RUN_TIMEOUT} s; its output so far:\n{(partial or '')[-10000:]}")
    elapsed = time.monotonic() - started
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"Schemathesis found problems (exit {result.returncode}):\n{report[-30000:]}"

    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert selected, report[-5000:]
    assert int(selected[2]) - int(selected[1]) == len(NOT_FUZZED), f"operations left out: {selected[0]}"
    assert selected[1] == selected[3], f"operations not tested: {selected[0]}"
    cases = re.search(r"Test cases:\s+(\d+) generated, (\d+) passed", report)
    assert cases and int(cases[1]) >= 10 * int(selected[1]), report[-5000:]
    print(f"Schemathesis: {selected[3]} operations, {cases[1]} test cases, {elapsed:.1f} s")
