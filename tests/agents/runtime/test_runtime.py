"""The runtime: admission, runners, claiming and leases, resume, draining and the sweeper."""

import os
import socket
import subprocess
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from agents import events
from agents.engine import planner
from agents.events import catalogue
from agents.exceptions import InvalidInput, RunGone
from agents.http.serializers import stream_request
from agents.models import AgentMessage, Execution, PlanStep, Run, RunEvent, WorkerProcess
from agents.runs import limits, services
from agents.runs.plans import parse_plan
from agents.runtime import admission, runners, sweeper, worker
from tests.factories import make_run, stored_events
from tests.support.live_server import wait_until
from tests.support.stub_model import Text, ToolCalls, is_executor, is_routing, is_synthesis, last_user_text, plan

pytestmark = pytest.mark.django_db(transaction=True)


class RecordingRunner:
    """A Runner that only records what it was handed (what a Celery runner's submit sends)."""

    executes_here = False

    def __init__(self):
        self.submitted: list[str] = []

    def submit(self, run_id):
        self.submitted.append(str(run_id))


@pytest.fixture
def recording_runner():
    recording = RecordingRunner()
    previous = runners.set_runner(recording)
    yield recording
    runners.set_runner(previous)


@pytest.fixture
def thread_runner():
    pool = runners.ThreadRunner(workers=2)
    yield pool
    assert pool.wait_idle(30)
    pool.shutdown()


@pytest.fixture(autouse=True)
def _no_background_sweeper():
    """Stop this process's maintenance thread: these tests sweep by hand and must not race it."""
    worker.stop_maintenance()
    yield
    worker.stop_maintenance()


@pytest.fixture
def undrained():
    yield
    worker.undrain()


def event_types(run) -> list[str]:
    return list(RunEvent.objects.filter(run=run).order_by("seq").values_list("type", flat=True))


def assert_seq_contiguous(run) -> None:
    seqs = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)), f"gap or duplicate in {seqs}"


def expire_lease(run: Run, *, seconds: float = 60) -> None:
    Run.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(seconds=seconds))


# --- Admission and runners ---------------------------------------------------


def test_run_accept_stores_hands_over_and_joins_without_resubmitting(recording_runner, user):
    run, created = admission.run_accept(user=user, message="hi", idempotency_key="k1")
    assert created and run.status == Run.Status.QUEUED and run.attempt == 0 and run.owner == ""
    assert run.lease_until is not None, "a queued run has a queue lease: the sweeper hands it over again after it"
    assert recording_runner.submitted == [str(run.pk)]
    assert run.reserved_tokens == limits.estimate_run_tokens("hi")
    again, created_again = admission.run_accept(user=user, message="hi", idempotency_key="k1")
    assert again.pk == run.pk and not created_again
    assert recording_runner.submitted == [str(run.pk)], "a joined run is not executed twice"
    assert limits.budget_used(user_id=user.pk) == run.reserved_tokens, "the join reserved nothing more"
    assert limits.rate_used(user_id=user.pk) == 1


def test_run_accept_refuses_bad_input_before_any_limit(recording_runner, user):
    with pytest.raises(InvalidInput):
        admission.run_accept(user=user, **stream_request({"message": ""}))
    assert recording_runner.submitted == [] and Run.objects.count() == 0
    assert limits.budget_used(user_id=user.pk) == 0


def test_thread_runner_executes_the_real_engine_and_settles_the_budget(
    stub_model, recording_runner, thread_runner, user
):
    stub_model.queue(Text("Done in a thread.", usage=(40, 2)))
    run, _ = admission.run_accept(user=user, message="hi")
    assert limits.budget_used(user_id=user.pk) == limits.estimate_run_tokens("hi")
    thread_runner.submit(run.pk)
    thread_runner.submit(run.pk)  # a duplicate hand-over (a retried task) must not run it twice
    assert thread_runner.wait_idle(10)
    worker.execute_run(run.pk)  # and a late duplicate finds nothing to claim
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.total_tokens == 42
    assert run.attempt == 1 and run.owner == "" and run.lease_until is None
    assert event_types(run)[0] == "session" and event_types(run).count("done") == 1
    assert limits.budget_used(user_id=user.pk) == 42, "the reservation became the real usage"
    assert len(stub_model.requests) == 1
    assert worker.held_run_ids() == []


def test_an_engine_that_raises_does_not_kill_the_worker(stub_model, thread_runner, user, monkeypatch):
    def broken(run, **kwargs):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(planner, "drive_run", broken)
    run = make_run(user)
    thread_runner.submit(run.pk)
    assert thread_runner.wait_idle(5)
    assert worker.held_run_ids() == []
    monkeypatch.undo()
    stub_model.queue(Text("fine"))
    second = make_run(user)
    thread_runner.submit(second.pk)
    assert thread_runner.wait_idle(10)
    second.refresh_from_db()
    assert second.status == Run.Status.COMPLETED, "the pool still works"


def test_build_runner_knows_thread_celery_and_dotted_paths():
    assert isinstance(runners.build_runner("thread"), runners.ThreadRunner)
    assert isinstance(runners.build_runner("celery"), runners.CeleryRunner)
    assert isinstance(runners.build_runner("tests.agents.runtime.test_runtime.RecordingRunner"), RecordingRunner)


# --- Claiming and leases -----------------------------------------------------


def test_claiming_is_exclusive_two_threads_one_winner(user, make_user):
    runs = [make_run(make_user()) for _ in range(8)]
    for run in runs:
        barrier = threading.Barrier(2)
        winners: list[str] = []

        def claim(owner, run_id=run.pk, barrier=barrier, winners=winners):
            try:
                barrier.wait(5)
                if services.run_claim(run_id=run_id, owner=owner) is not None:
                    winners.append(owner)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=claim, args=(name,)) for name in ("host:1:a", "host:2:b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        run.refresh_from_db()
        assert len(winners) == 1, f"{winners} both claimed {run.pk}"
        assert run.owner == winners[0] and run.attempt == 1 and run.status == Run.Status.RUNNING


def test_an_expired_lease_is_taken_over_a_live_one_is_not(user):
    run = make_run(user)
    first = services.run_claim(run_id=run.pk, owner="host:1:a")
    assert first is not None and first.attempt == 1 and first.resume_reason == ""
    assert services.run_claim(run_id=run.pk, owner="host:2:b") is None, "a live lease is not taken"
    expire_lease(run)
    second = services.run_claim(run_id=run.pk, owner="host:2:b")
    assert second is not None and second.owner == "host:2:b" and second.attempt == 2
    assert second.resume_reason == "worker_lost"
    assert services.run_claim(run_id=run.pk, owner="host:1:a") is None


def test_the_lost_owner_can_neither_emit_nor_finish_once_taken_over(user):
    run = make_run(user)
    old = services.run_claim(run_id=run.pk, owner="host:1:a")
    assert event_types(run) == ["session"]  # the claim stored it
    expire_lease(run)
    new = services.run_claim(run_id=run.pk, owner="host:2:b")
    with pytest.raises(RunGone):
        events.emit(old, catalogue.TextEvent(delta="zombie", agent_id="x"))
    assert not services.run_finish(run=old, status=Run.Status.COMPLETED, answer="zombie", fenced=True)
    events.emit(new, catalogue.TextEvent(delta="alive", agent_id="x"))
    assert services.run_finish(run=new, status=Run.Status.COMPLETED, answer="alive", fenced=True)
    assert event_types(run) == ["session", "text", "done"]
    assert_seq_contiguous(run)


def test_claims_stop_at_the_attempt_cap(user, settings):
    settings.AGENT_MAX_ATTEMPTS = 2
    run = make_run(user)
    assert services.run_claim(run_id=run.pk, owner="host:1:a").attempt == 1
    expire_lease(run)
    assert services.run_claim(run_id=run.pk, owner="host:2:b").attempt == 2
    expire_lease(run)
    assert services.run_claim(run_id=run.pk, owner="host:3:c") is None, "no third attempt"


def test_renewing_every_lease_of_a_process_is_one_update(user, make_user, django_assert_num_queries):
    owner = "host:1:a"
    held = [services.run_claim(run_id=make_run(make_user()).pk, owner=owner) for _ in range(3)]
    before = {run.pk: run.lease_until for run in held}
    with django_assert_num_queries(1):
        lost = services.runs_renew_leases(owner=owner, run_ids=[str(run.pk) for run in held])
    assert lost == set()
    for run in held:
        run.refresh_from_db()
        assert run.lease_until > before[run.pk]
    expire_lease(held[0])
    services.run_claim(run_id=held[0].pk, owner="host:2:b")  # taken over
    assert services.runs_renew_leases(owner=owner, run_ids=[str(run.pk) for run in held]) == {str(held[0].pk)}
    assert services.runs_renew_leases(owner=owner, run_ids=[]) == set()


# --- Resume ------------------------------------------------------------------


def complex_responder(*, slow_step: str, slow_chunks: list, seen: list):
    """Plan a, b (b after a), then answer; the executor of ``slow_step`` streams slowly while ``slow_chunks``."""

    def reply(request):
        if is_routing(request):
            return plan("Two steps", [("a", "Find A"), ("b", "Find B", ["a"])])
        if is_executor(request):
            task = last_user_text(request)
            seen.append(task.splitlines()[0])
            if slow_step in task.splitlines()[0] and slow_chunks:
                slow_chunks.pop()
                return Text("slow " * 40, chunks=40, chunk_delay=0.05)
            return Text(f"result of {task.splitlines()[0]}")
        if is_synthesis(request):
            return Text("The answer from both steps.", chunks=4)
        return Text("?")

    return reply


def test_a_drained_run_resumes_at_the_step_completed_steps_run_once(stub_model, recording_runner, user, undrained):
    seen: list[str] = []
    stub_model.responder = complex_responder(slow_step="Find B", slow_chunks=[1], seen=seen)
    run = make_run(user, "compare A and B")
    first = threading.Thread(target=worker.execute_run, args=(run.pk,))
    first.start()
    wait_until(lambda: PlanStep.objects.filter(plan__run=run, key="b", status="running").exists(), "step b runs", 10)
    wait_until(
        lambda: Execution.objects.filter(step__key="b", run=run).exists() and len(seen) == 2, "b's executor called"
    )
    assert worker.drain(seconds=0, handback_timeout=10), "the run was handed back"
    first.join(10)

    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED and run.owner == "" and run.resume_reason == "drained"
    assert recording_runner.submitted == [str(run.pk)], "handed on to another worker at once"
    assert Execution.objects.get(run=run, step__key="b").status == Execution.Status.INTERRUPTED
    assert PlanStep.objects.get(plan__run=run, key="b").status == PlanStep.Status.PENDING
    assert PlanStep.objects.get(plan__run=run, key="a").status == PlanStep.Status.COMPLETED

    worker.undrain()
    worker.execute_run(run.pk)  # another owner resumes it
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.attempt == 2
    types = event_types(run)
    assert types.count("plan_created") == 1 and types.count("done") == 1 and types[-1] == "done"
    resumed = [event for event in stored_events(run) if event["type"] == "resumed"]
    assert resumed == [{**resumed[0], "attempt": 2, "reason": "drained", "answer_reset": False}] and set(
        resumed[0]
    ) >= {"type", "run_id", "session_id", "seq", "ts"}
    assert_seq_contiguous(run)
    executions = {
        key: list(Execution.objects.filter(run=run, step__key=key).values_list("status", flat=True))
        for key in ("a", "b")
    }
    assert executions["a"] == ["completed"], "a completed step is not run again"
    assert sorted(executions["b"]) == ["completed", "interrupted"]
    assert seen.count("Step: Find A") == 1 and seen.count("Step: Find B") == 2
    complete = [event["step"]["key"] for event in stored_events(run) if event["type"] == "step_complete"]
    assert complete == ["a", "b"]
    assert run.assistant_message.content == "The answer from both steps."


def test_a_stored_planner_tool_result_is_not_called_again_and_a_cut_answer_is_reset(
    stub_model, recording_runner, user, undrained
):
    answers = []

    def reply(request):
        if not any(message["role"] == "tool" for message in request["messages"]):
            return ToolCalls([("calculate", {"expression": "6*7"})])
        answers.append(request)
        if len(answers) == 1:
            return Text("The answer is " + "forty-two " * 30, chunks=31, chunk_delay=0.05)
        return Text("The answer is 42.")

    stub_model.responder = reply
    run = make_run(user, "what is 6*7?")
    first = threading.Thread(target=worker.execute_run, args=(run.pk,))
    first.start()
    wait_until(lambda: RunEvent.objects.filter(run=run, type="text").exists(), "answer text streamed", 10)
    assert worker.drain(seconds=0, handback_timeout=10)
    first.join(10)
    worker.undrain()
    worker.execute_run(run.pk)

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.assistant_message.content == "The answer is 42."
    types = event_types(run)
    assert types.count("tool_call") == 1 and types.count("tool_result") == 1, "the tool ran once"
    assert AgentMessage.objects.filter(run=run, role="tool").count() == 1
    resumed = next(event for event in stored_events(run) if event["type"] == "resumed")
    assert resumed["answer_reset"] is True
    assert types.index("resumed") < len(types) - 1
    after_reset = [e["delta"] for e in stored_events(run)[types.index("resumed") :] if e["type"] == "text"]
    assert "".join(after_reset) == "The answer is 42."
    assert len(answers) == 2 and answers[1]["messages"][-1]["role"] == "tool", "the resumed call continues"
    assert_seq_contiguous(run)


def test_a_finished_answer_of_a_lost_attempt_is_sent_again_without_a_model_call(stub_model, user):
    stub_model.queue(Text("Hello there."))
    run = make_run(user)
    claimed = services.run_claim(run_id=run.pk, owner="host:1:gone")
    # What a first attempt stored before its process died: the session event (its claim's) and the whole answer.
    agent = services.agent_create(run=claimed, role="planner", model="m")
    events.flush(claimed)
    AgentMessage.objects.create(agent=agent, run=run, role="system", content="s")
    AgentMessage.objects.create(agent=agent, run=run, role="user", content="hello")
    AgentMessage.objects.create(agent=agent, run=run, role="assistant", content="Hello there.", prompt_tokens=5)
    expire_lease(run)
    worker.execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.assistant_message.content == "Hello there."
    assert stub_model.requests == [], "no model call"
    assert event_types(run) == ["session", "resumed", "analysis", "text", "done"]


# --- The sweeper -------------------------------------------------------------


def test_sweep_requeues_lost_runs_and_hands_them_over(recording_runner, user, make_user):
    lost = services.run_claim(run_id=make_run(user).pk, owner="otherhost:1:a")
    plan = services.plan_create(
        run=lost,
        agent=services.agent_create(run=lost, role="planner", model="m"),
        spec=parse_plan(
            '{"objective": "o", "steps": [{"id": "a", "title": "A", "instructions": "i", "depends_on": []}]}'
        ),
    )
    events.flush(lost)  # what the lost attempt had stored
    step = plan.steps.get()
    services.step_start(step=step)
    executor = services.agent_create(run=lost, role="executor", model="m")
    services.execution_start(run=lost, step=step, agent=executor, task="t")
    events.flush(lost)
    expire_lease(lost)
    alive = services.run_claim(run_id=make_run(make_user()).pk, owner="otherhost:2:b")

    done = sweeper.sweep()
    assert done["requeued"] == [str(lost.pk)] and str(lost.pk) in recording_runner.submitted
    lost.refresh_from_db()
    assert lost.status == Run.Status.QUEUED and lost.owner == "" and lost.resume_reason == "worker_lost"
    assert Execution.objects.get(run=lost).status == Execution.Status.INTERRUPTED
    assert PlanStep.objects.get(pk=step.pk).status == PlanStep.Status.PENDING
    alive.refresh_from_db()
    assert alive.status == Run.Status.RUNNING and str(alive.pk) not in recording_runner.submitted
    assert sweeper.sweep()["requeued"] == [], "a second sweep finds nothing lost"


def test_sweep_fails_a_run_out_of_attempts_and_leaves_nothing_running(recording_runner, user, settings):
    settings.AGENT_MAX_ATTEMPTS = 1
    run = services.run_claim(run_id=make_run(user).pk, owner="otherhost:1:a")
    plan = services.plan_create(
        run=run,
        agent=services.agent_create(run=run, role="planner", model="m"),
        spec=parse_plan(
            '{"objective": "o", "steps": [{"id": "a", "title": "A", "instructions": "i", "depends_on": []},'
            ' {"id": "b", "title": "B", "instructions": "i", "depends_on": ["a"]}]}'
        ),
    )
    events.flush(run)  # what the lost attempt had stored (its claim stored `session`)
    step = PlanStep.objects.get(plan=plan, key="a")
    services.step_start(step=step)
    services.execution_start(
        run=run, step=step, agent=services.agent_create(run=run, role="executor", model="m"), task="t"
    )
    events.flush(run)
    expire_lease(run)

    assert sweeper.sweep()["failed"] == [str(run.pk)]
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.error_code == "worker_lost" and run.finished_at
    assert event_types(run) == ["session", "error", "done"]
    done = stored_events(run)[-1]
    assert done["status"] == "failed"
    assert not Execution.objects.filter(run=run, status="running").exists()
    assert not PlanStep.objects.filter(plan__run=run, status__in=["running", "pending"]).exists()
    assert recording_runner.submitted == []
    assert_seq_contiguous(run)


def test_a_dead_process_of_this_host_is_noticed_before_its_lease_expires(recording_runner, user):
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = f"{socket.gethostname()}:{dead.pid}:x"
    run = services.run_claim(run_id=make_run(user).pk, owner=owner)
    assert run.lease_until > timezone.now(), "the lease is still live"
    mine = services.run_claim(
        run_id=make_run(user, session_id=None).pk, owner=f"{socket.gethostname()}:{os.getpid()}:y"
    )
    assert sweeper.sweep()["requeued"] == [str(run.pk)]
    mine.refresh_from_db()
    assert mine.status == Run.Status.RUNNING, "this process's own runs are not touched"


def test_sweep_hands_over_queued_runs_nobody_claimed(recording_runner, user, make_user):
    forgotten = make_run(user)
    Run.objects.filter(pk=forgotten.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    fresh = make_run(make_user())
    assert sweeper.sweep()["submitted"] == [str(forgotten.pk)]
    assert recording_runner.submitted == [str(forgotten.pk)]
    assert sweeper.sweep()["submitted"] == [], "not again within a lease"
    assert str(fresh.pk) not in recording_runner.submitted


def test_sweep_runs_command(recording_runner, user):
    run = services.run_claim(run_id=make_run(user).pk, owner="otherhost:1:a")
    expire_lease(run)
    out = StringIO()
    call_command("sweep_runs", stdout=out)
    assert f"requeued {run.pk}" in out.getvalue() and "Swept 1 run(s)." in out.getvalue()


def test_maintenance_renews_held_leases_records_the_worker_and_sweeps(recording_runner, user, make_user, settings):
    settings.AGENT_LEASE_SECONDS = 1.5  # beats every 0.5 s
    held = services.run_claim(run_id=make_run(user).pk, owner=worker.owner_name())
    worker._hold(held)
    lost = services.run_claim(run_id=make_run(make_user()).pk, owner="otherhost:1:a")
    expire_lease(lost)
    thread = worker.Maintenance(kind=WorkerProcess.Kind.THREAD)
    thread.start()
    try:
        first_lease = Run.objects.get(pk=held.pk).lease_until
        wait_until(lambda: Run.objects.get(pk=held.pk).lease_until > first_lease, "the held lease was renewed")
        wait_until(lambda: Run.objects.get(pk=lost.pk).status == Run.Status.QUEUED, "the lost run was requeued")
        wait_until(lambda: WorkerProcess.objects.filter(pk=worker.owner_name()).exists(), "the worker was recorded")
    finally:
        thread.stopping.set()
        thread.join(5)
        worker._unhold(str(held.pk))
    assert not WorkerProcess.objects.filter(pk=worker.owner_name()).exists(), "a stopped worker is forgotten"
    assert Run.objects.get(pk=held.pk).status == Run.Status.RUNNING


def test_healthz_reports_live_workers(client, settings):
    WorkerProcess.objects.create(name="h:1:a", kind="thread", concurrency=8, beat_at=timezone.now())
    WorkerProcess.objects.create(
        name="h:2:b", kind="thread", concurrency=8, beat_at=timezone.now() - timedelta(minutes=5)
    )
    body = client.get("/healthz").json()
    assert body["workers"]["live"] == 1 and body["workers"]["names"] == ["h:1:a"]
    assert body["runner"] == "thread"
