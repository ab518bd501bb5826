"""How fast a lost or drained run goes on elsewhere: ``make bench`` runs it after ``bench/run.py``.

Real processes: one uvicorn web process and Celery workers started by
``make worker``, Redis as bus and broker, a fresh SQLite database, and the
tests' stub model. A complex run whose second step streams slowly is started;
while that step works, its owner is stopped, and the time until the run's
next event (``resumed``, stored by another worker) is measured:

- ``kill -9`` of the owner: the other worker's sweeper notices the expired
  lease (``AGENT_LEASE_SECONDS``, set to 3 s here; the default 20 s bounds it
  at 20 s plus one sweep of at most 10 s), requeues, and another worker claims;
- ``SIGTERM`` with ``AGENT_DRAIN_SECONDS=0``: the owner hands the run back at
  its agents' next check and submits it; another worker claims it at once.

Each is repeated ``BENCH_DURABILITY_ROUNDS`` times (default 3), a fresh worker
replacing the stopped one each round.
"""

import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

ROUNDS = int(os.environ.get("BENCH_DURABILITY_ROUNDS", "3"))
LEASE = 3.0
# The bench's own Redis database (BENCH_REDIS_URL, default 6): cache and broker, with a queue and prefix of their own.
REDIS_DB = int(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6").rsplit("/", 1)[1])
CACHE_DB = BROKER_DB = REDIS_DB


def setup_django() -> None:
    """Point Django at a throwaway SQLite database and migrate it (the child processes use it by DATABASE_URL)."""
    path = f"{tempfile.mkdtemp(prefix='agents-bench-durability-')}/bench.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.pop("REDIS_URL", None)
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["DJANGO_SETTINGS_MODULE"] = "agents_platform.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from agents.models import RunEvent
    from tests.support.live_server import LiveClient
    from tests.support.processes import Web, Worker, check_redis, platform_env, wait_workers_ready
    from tests.support.stub_model import StubModel, Text, is_executor, is_routing, last_user_text, plan

    slow = threading.Event()

    def reply(request):
        if is_routing(request):
            return plan("Two steps", [("a", "Find A"), ("b", "Find B", ["a"])])
        if is_executor(request):
            if "Find B" in last_user_text(request) and slow.is_set():
                return Text("partial " * 600, chunks=600, chunk_delay=0.05)
            return Text("result")
        return Text("The answer.")

    stub = StubModel().start()
    stub.responder = reply
    check_redis()
    user = get_user_model().objects.create_user(username="bench")
    token = Token.objects.create(user=user).key
    logs = Path(tempfile.mkdtemp(prefix="agents-bench-logs-"))
    env = platform_env(
        redis_db=CACHE_DB,
        broker_url=f"redis://127.0.0.1:6379/{BROKER_DB}",
        AGENT_RUNNER="celery",
        CELERY_QUEUE=f"agents-bench-{os.getpid()}",
        CACHE_KEY_PREFIX=f"agents-bench-{os.getpid()}",
        AGENT_LEASE_SECONDS=str(LEASE),
        AGENT_DRAIN_SECONDS="0",
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=stub.base_url,
        OPENAI_API_KEY="bench",
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    web = Web(env, logs).start()
    workers = [Worker(env, logs, name=f"w{n}").start() for n in range(2)]
    results: dict[str, list[float]] = {"kill_9_to_resumed_ms": [], "sigterm_to_resumed_ms": []}
    try:
        web.wait_healthy(workers=2, timeout=60)
        wait_workers_ready(web, workers, timeout=60)
        client = LiveClient(web.url, headers={"Authorization": f"Token {token}"})
        for round_number in range(ROUNDS):
            for kind, sig in (("kill_9_to_resumed_ms", signal.SIGKILL), ("sigterm_to_resumed_ms", signal.SIGTERM)):
                slow.set()
                with client.send(f"compare A and B, round {round_number}") as stream:
                    run_id = stream.events(limit=1)[0]["run_id"]
                while not RunEvent.objects.filter(run_id=run_id, type="executor_spawned").count() >= 2:
                    time.sleep(0.01)
                from agents.models import Run

                owner_pid = int(Run.objects.get(pk=run_id).owner.rsplit(":", 2)[1])
                victim = next(worker for worker in workers if worker.main_pid() == owner_pid)
                slow.clear()
                stopped = time.time()
                os.kill(owner_pid, sig)
                while not (resumed := RunEvent.objects.filter(run_id=run_id, type="resumed").first()):
                    time.sleep(0.005)
                results[kind].append(round((resumed.created_at.timestamp() - stopped) * 1000, 1))
                while not RunEvent.objects.filter(run_id=run_id, type="done").exists():
                    time.sleep(0.01)
                victim.wait_exit(timeout=30)
                victim.stop()
                workers.remove(victim)
                workers.append(Worker(env, logs, name=f"w{round_number}{kind[:4]}").start())
                wait_workers_ready(web, workers, timeout=60)
    finally:
        for process in [web, *workers]:
            process.stop()
        stub.stop()
    summary = {
        "lease_seconds": LEASE,
        **{kind: {"values": values, "max": max(values)} for kind, values in results.items()},
    }
    print(f"kill -9 of the owner -> resumed elsewhere: {results['kill_9_to_resumed_ms']} ms (lease {LEASE} s)")
    print(f"SIGTERM (drain 0 s)  -> resumed elsewhere: {results['sigterm_to_resumed_ms']} ms")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
