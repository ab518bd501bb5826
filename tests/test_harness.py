"""The test harness itself: what the suite leaves behind when it ends."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLOW_EXIT_PLUGIN = """
import time

def pytest_unconfigure(config):
    time.sleep(1.5)  # a process that lingers after its tests, as a long suite's does
"""


def test_maintenance_thread_stops_before_the_test_database_is_destroyed(tmp_path):
    # A request starts the runtime's maintenance thread; beating every 1 s, it would
    # query the destroyed test database ("no such table: agents_run") while the process lingers.
    (tmp_path / "slow_exit.py").write_text(SLOW_EXIT_PLUGIN)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(PYTHONPATH=str(tmp_path), AGENT_LEASE_SECONDS="3")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "slow_exit",
            "-p",
            "no:cacheprovider",
            "tests/agents/http/test_stream_errors.py::test_no_credentials_or_a_bad_token_answer_401",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 passed" in output
    assert "Lease renewal or sweep failed" not in output
    assert "Could not unregister worker" not in output
