"""Runs survive what deployments do to processes: real web servers, real Celery workers, kill -9 and SIGTERM.

Every process here is real: uvicorn web processes (``--lifespan on``, as
``make run`` serves), Celery workers started by ``make worker``, Redis (the
bus and the broker; RabbitMQ in one case), the test's own database, and the
stub model over HTTP. They run in both passes of CI, on SQLite and on
PostgreSQL. Each test starts its processes on free ports and stops exactly
those, by process group.
"""

import signal
import threading
import time
import uuid

import pytest

from agents.models import Execution, PlanStep, Run, RunEvent
from tests.support.live_server import LiveClient, StreamReader, wait_until
from tests.support.processes import Web, Worker, check_redis, platform_env
from tests.support.stub_model import Text, is_executor, is_routing, is_synthesis, last_user_text, plan

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

CACHE_DB, BROKER_DB = 13, 12
LEASE = "3"  # seconds: a lost worker is noticed within ~3 s plus one sweep
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def slow_plan_responder(*, slow_steps: set[str], slow: threading.Event, calls: list[str]):
    """Plan A, B (after A) and C; while ``slow`` is set, the executors of ``slow_steps`` stream for 30 s."""
    lock = threading.Lock()

    def reply(request):
        if is_routing(request):
            return plan("Three steps", [("a", "Find A"), ("b", "Find B", ["a"]), ("c", "Find C")])
        if is_executor(request):
            title = last_user_text(request).splitlines()[0].removeprefix("Step: ")
            with lock:
                calls.append(title)
            if title in slow_steps and slow.is_set():
                return Text("partial " * 300, chunks=300, chunk_delay=0.1)
            return Text(f"result of {title}")
        if is_synthesis(request):
            return Text("Here is what A, B and C say.", chunks=3)
        return Text("?")

    return reply


def slow_until_cleared() -> threading.Event:
    slow = threading.Event()
    slow.set()
    return slow


def start_run(client: LiveClient, message: str) -> str:
    """POST a message through a web process, read its first event, and return the run id."""
    with client.send(message) as stream:
        assert stream.status_code == 200, stream.json()
        first = stream.events(limit=1)[0]
    assert first["type"] == "session"
    return first["run_id"]


def owner_pid(run_id: str) -> int:
    owner = Run.objects.get(pk=run_id).owner
    return int(owner.rsplit(":", 2)[1])


def assert_whole_stream(run_id: str, events: list[dict], client: LiveClient) -> None:
    """seq 1..n with no gap or duplicate, `done` last and once, and equal to a replay from 0."""
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"gap or duplicate: {seqs}"
    assert [event["type"] for event in events].count("done") == 1 and events[-1]["type"] == "done"
    with client.join(run_id, last_event_id=0) as replay:
        assert replay.events() == events, "the live stream equals the stored one"


def unique(prefix: str) -> str:
    """Return a name no other test (nor a suite running beside this one) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def celery_env(stub, *, broker_url: str, **extra):
    return platform_env(
        redis_db=CACHE_DB,
        CACHE_KEY_PREFIX=unique("agents-test"),
        broker_url=broker_url,
        AGENT_RUNNER="celery",
        AGENT_LEASE_SECONDS=LEASE,
        AGENT_WORKER_CONCURRENCY="3",
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=stub.base_url,
        OPENAI_API_KEY="test",
        **extra,
    )


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_run_survives_kill_9_of_its_worker_and_completes_on_the_other(broker, stub_model, processes, tmp_path, token):
    check_redis()
    broker_url = RABBITMQ_URL if broker == "rabbitmq" else f"redis://127.0.0.1:6379/{BROKER_DB}"
    calls: list[str] = []
    slow = slow_until_cleared()
    stub_model.responder = slow_plan_responder(slow_steps={"Find B"}, slow=slow, calls=calls)
    env = celery_env(stub_model, broker_url=broker_url, CELERY_QUEUE=unique("agents"))
    web1, web2 = processes(Web(env, tmp_path, name="web1")), processes(Web(env, tmp_path, name="web2"))
    workers = [processes(Worker(env, tmp_path, name=f"worker{n}")) for n in (1, 2)]
    web1.wait_healthy(workers=2)
    web2.wait_healthy(workers=2)
    headers = {"Authorization": f"Token {token}"}
    one, two = LiveClient(web1.url, headers=headers), LiveClient(web2.url, headers=headers)

    run_id = start_run(one, "compare A, B and C")
    follower = StreamReader(two, f"/api/agent/runs/{run_id}/stream")
    follower.start()
    wait_until(
        lambda: (
            "Find B" in calls and PlanStep.objects.filter(plan__run_id=run_id, key="c", status="completed").exists()
        ),
        "step C is done and step B's executor is working",
        timeout=30,
    )
    victim = owner_pid(run_id)
    killed = next(worker for worker in workers if worker.main_pid() == victim)
    killed.signal(signal.SIGKILL)
    slow.clear()
    events = follower.result(timeout=60)

    run = Run.objects.get(pk=run_id)
    assert run.status == Run.Status.COMPLETED and run.attempt == 2, killed.log()
    types = [event["type"] for event in events]
    resumed = [event for event in events if event["type"] == "resumed"]
    assert len(resumed) == 1 and resumed[0]["reason"] == "worker_lost" and resumed[0]["attempt"] == 2
    assert events[-1]["status"] == "completed"
    assert types.count("plan_created") == 1
    assert_whole_stream(run_id, events, two)
    statuses = {
        key: sorted(Execution.objects.filter(run_id=run_id, step__key=key).values_list("status", flat=True))
        for key in ("a", "b", "c")
    }
    assert statuses["a"] == ["completed"] and statuses["c"] == ["completed"], "completed steps ran once"
    assert statuses["b"] == ["completed", "interrupted"]
    assert calls.count("Find A") == 1 and calls.count("Find C") == 1 and calls.count("Find B") == 2
    assert not PlanStep.objects.filter(plan__run_id=run_id).exclude(status="completed").exists()


def test_a_deploy_sigterm_to_every_worker_then_new_ones_loses_no_run(stub_model, processes, tmp_path, token):
    check_redis()
    calls: list[str] = []
    slow = slow_until_cleared()
    stub_model.responder = slow_plan_responder(slow_steps={"Find A", "Find C"}, slow=slow, calls=calls)
    env = celery_env(
        stub_model,
        broker_url=f"redis://127.0.0.1:6379/{BROKER_DB}",
        AGENT_DRAIN_SECONDS="1",
        CELERY_QUEUE=unique("agents"),
    )
    web = processes(Web(env, tmp_path))
    old = [processes(Worker(env, tmp_path, name=f"old{n}")) for n in (1, 2)]
    web.wait_healthy(workers=2)
    client = LiveClient(web.url, headers={"Authorization": f"Token {token}"})
    run_ids = [start_run(client, f"question {n}") for n in range(3)]
    wait_until(
        lambda: calls.count("Find A") == 3 and calls.count("Find C") == 3, "every run is in its slow steps", timeout=30
    )

    for worker in old:
        worker.signal(signal.SIGTERM)
    slow.clear()
    new = [processes(Worker(env, tmp_path, name=f"new{n}")) for n in (1, 2)]
    for worker in old:
        assert worker.wait_exit(timeout=40) is not None, f"{worker.name} did not drain and exit:\n{worker.log()}"
    readers = [StreamReader(client, f"/api/agent/runs/{run_id}/stream") for run_id in run_ids]
    for reader in readers:
        reader.start()
    for run_id, reader in zip(run_ids, readers, strict=True):
        events = reader.result(timeout=90)
        assert events[-1]["status"] == "completed", [e["type"] for e in events]
        resumed = [event for event in events if event["type"] == "resumed"]
        assert [event["reason"] for event in resumed] == ["drained"], resumed
        assert_whole_stream(run_id, events, client)
    assert Run.objects.filter(pk__in=run_ids, status="completed").count() == 3
    assert all(new_worker.alive() for new_worker in new)
    assert "Draining" in old[0].log() + old[1].log()


@pytest.mark.parametrize("stop", ["sigterm", "kill-9"])
def test_the_embedded_server_restarted_mid_run_finishes_the_run(stop, stub_model, processes, tmp_path, token):
    calls: list[str] = []
    slow = slow_until_cleared()
    stub_model.responder = slow_plan_responder(slow_steps={"Find B"}, slow=slow, calls=calls)
    env = platform_env(
        redis_db=None,
        AGENT_RUNNER="thread",
        AGENT_DRAIN_SECONDS="1",
        AGENT_LEASE_SECONDS="60",  # so a resume within 30 s can only come from noticing the dead process
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=stub_model.base_url,
        OPENAI_API_KEY="test",
    )
    first = processes(Web(env, tmp_path, name="first", use_make=True))
    first.wait_healthy()
    headers = {"Authorization": f"Token {token}"}
    run_id = start_run(LiveClient(first.url, headers=headers), "compare A, B and C")
    wait_until(lambda: "Find B" in calls, "step B's executor is working", timeout=30)
    seen = RunEvent.objects.filter(run_id=run_id).count()
    if stop == "sigterm":
        first.signal(signal.SIGTERM)
        assert first.wait_exit(timeout=30) is not None, first.log()
        assert Run.objects.get(pk=run_id).status == Run.Status.QUEUED, "drained: handed back, not lost"
    else:
        first.signal(signal.SIGKILL)
        first.wait_exit(timeout=10)
        assert Run.objects.get(pk=run_id).status == Run.Status.RUNNING, "killed: still held by the dead process"
    slow.clear()

    started = time.monotonic()
    second = processes(Web(env, tmp_path, name="second", use_make=True))
    second.wait_healthy()
    client = LiveClient(second.url, headers=headers)
    reader = StreamReader(client, f"/api/agent/runs/{run_id}/stream", headers={"Last-Event-ID": str(seen)})
    reader.start()
    rest = reader.result(timeout=60)
    assert time.monotonic() - started < 30, "resumed on start, not after a lease had run out"
    assert rest[0]["seq"] == seen + 1
    resumed = [event for event in rest if event["type"] == "resumed"]
    assert [event["reason"] for event in resumed] == ["drained" if stop == "sigterm" else "worker_lost"]
    assert rest[-1]["type"] == "done" and rest[-1]["status"] == "completed"
    with client.join(run_id, last_event_id=0) as replay:
        everything = replay.events()
    assert [event["seq"] for event in everything] == list(range(1, len(everything) + 1))
    assert calls.count("Find A") == 1 and calls.count("Find B") == 2
