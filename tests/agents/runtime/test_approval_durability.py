"""Approvals survive what deployments do: real uvicorn processes, real Celery workers, kill -9, restarts.

A waiting run holds nothing, so a web process may restart while it waits and
the decision, posted to the new process, still resumes it; a worker killed
right after it ran an approved call leaves the call answered, and the run
resumed elsewhere does not run it again (its rows are counted).
"""

import os
import signal
import threading
from urllib.parse import urlparse

import pytest

from agents.models import Approval, Memory, Run
from tests.support.live_server import LiveClient, StreamReader, wait_until
from tests.support.processes import Web, Worker, check_redis, platform_env
from tests.support.stub_model import Text, ToolCalls, has_tool_results, is_routing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

LEASE = "3"


def _redis_db() -> int:
    """The Redis database of this test run (REDIS_URL's), else the one the durability tests use."""
    path = urlparse(os.environ.get("REDIS_URL", "")).path.strip("/")
    return int(path) if path.isdigit() else 13


def assert_in_order(events: list[dict]) -> None:
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert [event["type"] for event in events].count("done") == 1 and events[-1]["type"] == "done"


def test_a_worker_killed_right_after_the_approved_tool_ran_does_not_run_it_twice(
    stub_model, processes, tmp_path, token
):
    check_redis()
    answer_started = threading.Event()

    def reply(request):
        if is_routing(request) and not has_tool_results(request):
            return ToolCalls([("remember", {"content": "I prefer tea"})])
        if not answer_started.is_set():
            answer_started.set()
            return Text("slow " * 200, chunks=200, chunk_delay=0.2)  # the worker is killed in here
        return Text("Saved that you prefer tea.")

    stub_model.responder = reply
    db = _redis_db()
    env = platform_env(
        redis_db=db,
        broker_url=f"redis://127.0.0.1:6379/{db}",
        CACHE_KEY_PREFIX=f"approvals-{os.getpid()}-{id(reply)}",
        CELERY_QUEUE=f"approvals-{os.getpid()}-{id(reply)}",
        AGENT_RUNNER="celery",
        AGENT_LEASE_SECONDS=LEASE,
        AGENT_WORKER_CONCURRENCY="2",
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=stub_model.base_url,
        OPENAI_API_KEY="test",
    )
    web = processes(Web(env, tmp_path))
    workers = [processes(Worker(env, tmp_path, name=f"worker{n}")) for n in (1, 2)]
    web.wait_healthy(workers=2)
    client = LiveClient(web.url, headers={"Authorization": f"Token {token}"})
    reader = StreamReader(client, "/api/agent/stream", method="POST", json={"message": "remember that I prefer tea"})
    reader.start()
    wait_until(lambda: reader.of_type("approval_required"), "the approval is asked", timeout=30)
    run_id = reader.events[0]["run_id"]
    approval_id = reader.of_type("approval_required")[0]["approval"]["id"]
    wait_until(lambda: Run.objects.get(pk=run_id).status == Run.Status.WAITING, "the run waits", timeout=10)

    answer = client.post(f"/api/agent/runs/{run_id}/approvals/{approval_id}", json={"decision": "approve"})
    assert answer.status_code == 200, answer.text
    assert answer_started.wait(30), "the approved call ran and the answer began"
    assert Memory.objects.filter(user__auth_token__key=token).count() == 1
    owner = Run.objects.get(pk=run_id).owner
    victim = next(worker for worker in workers if worker.main_pid() == int(owner.rsplit(":", 2)[1]))
    victim.signal(signal.SIGKILL)

    events = reader.result(timeout=90)
    assert_in_order(events)
    assert events[-1]["status"] == "completed", victim.log()
    assert [event["reason"] for event in events if event["type"] == "resumed"] == ["approval", "worker_lost"]
    types = [event["type"] for event in events]
    assert types.count("tool_call") == 1 and types.count("tool_result") == 1, "the approved call ran once"
    assert Memory.objects.filter(user__auth_token__key=token).count() == 1
    assert Approval.objects.get(pk=approval_id).executed_at is not None


def test_a_server_restarted_while_a_run_waits_resumes_it_on_the_decision(stub_model, processes, tmp_path, token):
    stub_model.queue(ToolCalls([("remember", {"content": "I prefer tea"})]), Text("Saved."))
    env = platform_env(
        redis_db=None,
        AGENT_RUNNER="thread",
        AGENT_DRAIN_SECONDS="1",
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=stub_model.base_url,
        OPENAI_API_KEY="test",
    )
    headers = {"Authorization": f"Token {token}"}
    first = processes(Web(env, tmp_path, name="first", use_make=True))
    first.wait_healthy()
    with LiveClient(first.url, headers=headers).send("remember that I prefer tea") as stream:
        seen = []
        for frame in stream:
            if frame.data is not None:
                seen.append(frame.event)
                if frame.event["type"] == "approval_required":
                    break
    run_id, approval_id = seen[0]["run_id"], seen[-1]["approval"]["id"]
    wait_until(lambda: Run.objects.get(pk=run_id).status == Run.Status.WAITING, "the run waits", timeout=10)
    first.signal(signal.SIGTERM)
    assert first.wait_exit(timeout=30) is not None, first.log()
    assert Run.objects.get(pk=run_id).status == Run.Status.WAITING, "a waiting run is not handed back"

    second = processes(Web(env, tmp_path, name="second", use_make=True))
    second.wait_healthy()
    client = LiveClient(second.url, headers=headers)
    listed = client.get(f"/api/agent/runs/{run_id}/approvals").json()
    assert [(item["id"], item["status"]) for item in listed] == [(approval_id, "pending")]
    reader = StreamReader(client, f"/api/agent/runs/{run_id}/stream", headers={"Last-Event-ID": "0"})
    reader.start()
    answer = client.post(f"/api/agent/runs/{run_id}/approvals/{approval_id}", json={"decision": "approve"})
    assert answer.status_code == 200, answer.text
    events = reader.result(timeout=60)
    assert_in_order(events)
    assert events[: len(seen)] == seen, "the replay is what the first server sent"
    assert [event["reason"] for event in events if event["type"] == "resumed"] == ["approval"]
    assert events[-1]["status"] == "completed"
    assert list(Memory.objects.filter(user__auth_token__key=token).values_list("content", flat=True)) == [
        "I prefer tea"
    ]
