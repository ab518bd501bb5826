"""The runner: admission, execution in the pool, budget settling, heartbeat and the sweeper."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from agents.engine import planner
from agents.exceptions import InvalidInput
from agents.models import Run, RunEvent
from agents.runs import limits
from agents.runtime import runner
from tests.factories import make_run
from tests.live_server import wait_until
from tests.stub_model import Text

pytestmark = pytest.mark.django_db(transaction=True)


class RecordingRunner:
    """A Runner that only records what it was handed (what a Celery runner's submit would send)."""

    def __init__(self):
        self.submitted: list[str] = []

    def submit(self, run_id):
        self.submitted.append(str(run_id))


@pytest.fixture
def recording_runner(monkeypatch):
    recording = RecordingRunner()
    monkeypatch.setattr(runner, "_runner", recording)
    return recording


@pytest.fixture
def thread_runner():
    pool = runner.ThreadRunner(workers=2)
    yield pool
    assert pool.wait_idle(30)
    pool.shutdown()


def event_types(run) -> list[str]:
    return list(RunEvent.objects.filter(run=run).order_by("seq").values_list("type", flat=True))


def test_run_accept_stores_hands_over_and_joins_without_resubmitting(recording_runner, user):
    run, created = runner.run_accept(user=user, payload={"message": "hi"}, idempotency_key="k1")
    assert created and run.status == Run.Status.QUEUED
    assert recording_runner.submitted == [str(run.pk)]
    assert run.reserved_tokens == limits.estimate_run_tokens("hi")
    again, created_again = runner.run_accept(user=user, payload={"message": "hi"}, idempotency_key="k1")
    assert again.pk == run.pk and not created_again
    assert recording_runner.submitted == [str(run.pk)], "a joined run is not executed twice"
    assert limits.budget_used(user_id=user.pk) == run.reserved_tokens, "the join reserved nothing more"
    assert limits.rate_used(user_id=user.pk) == 1


def test_run_accept_refuses_bad_input_before_any_limit(recording_runner, user):
    with pytest.raises(InvalidInput):
        runner.run_accept(user=user, payload={"message": ""})
    assert recording_runner.submitted == [] and Run.objects.count() == 0
    assert limits.budget_used(user_id=user.pk) == 0


def test_thread_runner_executes_the_real_engine_and_settles_the_budget(
    stub_model, recording_runner, thread_runner, user
):
    stub_model.queue(Text("Done in a thread.", usage=(40, 2)))
    run, _ = runner.run_accept(user=user, payload={"message": "hi"})
    assert limits.budget_used(user_id=user.pk) == limits.estimate_run_tokens("hi")
    thread_runner.submit(run.pk)
    thread_runner.submit(run.pk)  # a duplicate hand-over (a retried task) must not run it twice
    assert thread_runner.wait_idle(10)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.total_tokens == 42
    assert event_types(run)[0] == "session" and event_types(run).count("done") == 1
    assert limits.budget_used(user_id=user.pk) == 42, "the reservation became the real usage"
    assert len(stub_model.requests) == 1
    assert runner.held_run_ids() == []


def test_an_engine_that_raises_does_not_kill_the_worker(thread_runner, user, monkeypatch):
    def broken(run_id):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(planner, "execute_run", broken)
    run = make_run(user)
    thread_runner.submit(run.pk)
    assert thread_runner.wait_idle(5)
    assert runner.held_run_ids() == []
    monkeypatch.undo()
    second = make_run(user)
    thread_runner.submit(second.pk)
    assert thread_runner.wait_idle(10)
    second.refresh_from_db()
    assert second.status in {Run.Status.COMPLETED, Run.Status.FAILED}, "the pool still works"


def test_build_runner_takes_a_dotted_path(settings):
    assert isinstance(runner.build_runner("thread"), runner.ThreadRunner)
    assert isinstance(runner.build_runner("tests.agents.test_runner.RecordingRunner"), RecordingRunner)


def test_heartbeat_is_one_update_for_all_held_active_runs(user, make_user, django_assert_num_queries):
    runs = [make_run(make_user()) for _ in range(3)]
    finished = make_run(user)
    Run.objects.filter(pk=finished.pk).update(status=Run.Status.COMPLETED)
    with django_assert_num_queries(1):
        beaten = runner.runs_heartbeat(run_ids=[str(run.pk) for run in [*runs, finished]])
    assert beaten == 3
    assert Run.objects.filter(heartbeat_at__isnull=False).count() == 3
    assert runner.runs_heartbeat(run_ids=[]) == 0


def make_stale(run: Run, *, status: str = Run.Status.RUNNING, heartbeat_age: float | None = 600) -> None:
    old = timezone.now() - timedelta(seconds=600)
    heartbeat = None if heartbeat_age is None else timezone.now() - timedelta(seconds=heartbeat_age)
    Run.objects.filter(pk=run.pk).update(status=status, heartbeat_at=heartbeat, started_at=old, created_at=old)


def test_sweeper_interrupts_runs_whose_worker_died(user, make_user, settings):
    settings.AGENT_HEARTBEAT_TIMEOUT = 60
    dead_running = make_run(user)
    make_stale(dead_running)
    never_handed_over = make_run(make_user())
    make_stale(never_handed_over, status=Run.Status.QUEUED, heartbeat_age=None)
    alive = make_run(make_user())
    make_stale(alive, heartbeat_age=5)
    just_queued = make_run(make_user())

    swept = runner.runs_sweep()
    for run in (dead_running, never_handed_over):
        run.refresh_from_db()
        assert run.status == Run.Status.INTERRUPTED and run.error_code == "interrupted" and run.finished_at
        stored = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("data", flat=True))
        assert [event["type"] for event in stored] == ["error", "done"]
        assert stored[0]["fatal"] is True and stored[0]["code"] == "interrupted"
        assert stored[1]["status"] == "interrupted" and stored[1]["message_id"] is None
        assert set(stored[1]["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens", "llm_calls"}
    assert set(swept) <= {str(dead_running.pk), str(never_handed_over.pk)}  # the background sweeper may win one
    for run in (alive, just_queued):
        run.refresh_from_db()
        assert run.is_active and not RunEvent.objects.filter(run=run).exists()
    assert runner.runs_sweep() == [], "a second sweep finds nothing"
    assert event_types(dead_running) == ["error", "done"], "no second done"


def test_a_late_worker_and_the_sweeper_never_both_finish_a_run(user):
    from agents.runs import services

    run = make_run(user)
    make_stale(run)
    assert services.run_finish(run=run, status=Run.Status.COMPLETED)  # the worker got there first
    assert runner.runs_sweep() == []
    assert event_types(run) == []


def test_sweep_runs_command(user):
    run = make_run(user)
    make_stale(run)
    out = StringIO()
    call_command("sweep_runs", "--timeout", "30", stdout=out)
    run.refresh_from_db()
    assert run.status == Run.Status.INTERRUPTED
    assert "Swept" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("sweep_runs", "--timeout", "0")


def test_swept_run_ends_an_open_stream_with_error_and_done(asgi_live_server, user):
    run = make_run(user)
    make_stale(run)
    with asgi_live_server.client(user).join(run.pk) as stream:
        runner.runs_sweep()
        found = stream.events()
    assert [event["type"] for event in found] == ["error", "done"]
    assert found[-1]["status"] == "interrupted"


def test_maintenance_thread_beats_held_runs_and_sweeps(user, make_user, settings):
    settings.AGENT_HEARTBEAT_TIMEOUT = 2.0  # beats every 0.5 s, sweeps every 1 s
    held = make_run(user)
    dead = make_run(make_user())
    make_stale(dead)
    runner._hold(str(held.pk))
    thread = runner.Maintenance()
    thread.start()
    try:
        wait_until(lambda: Run.objects.get(pk=held.pk).heartbeat_at is not None, "the held run had a heartbeat")
        wait_until(lambda: Run.objects.get(pk=dead.pk).status == Run.Status.INTERRUPTED, "the dead run was swept")
    finally:
        thread.stopping.set()
        thread.join(5)
        runner._release(str(held.pk))
    assert Run.objects.get(pk=held.pk).status == Run.Status.QUEUED
