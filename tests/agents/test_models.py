"""The data model's constraints hold in the database itself."""

import pytest
from django.db import IntegrityError, transaction

from agents.models import Agent, AgentMessage, Execution, Plan, PlanStep, PlanStepDependency, Run, RunEvent
from agents.runs import services
from sessions import services as session_services
from sessions.models import ChatSession, Message
from tests.factories import make_plan, make_run

pytestmark = pytest.mark.django_db(transaction=True)


def test_second_event_with_same_run_and_seq_is_refused(user):
    run = make_run(user)
    RunEvent.objects.create(run=run, seq=1, type="session", data={})
    with pytest.raises(IntegrityError), transaction.atomic():
        RunEvent.objects.create(run=run, seq=1, type="analysis", data={})
    assert RunEvent.objects.filter(run=run).count() == 1


def test_event_seq_must_be_positive(user):
    run = make_run(user)
    with pytest.raises(IntegrityError), transaction.atomic():
        RunEvent.objects.create(run=run, seq=0, type="session", data={})


def test_plan_step_cannot_depend_on_step_of_another_plan(user):
    first = make_plan(make_run(user, "one"), keys=("a",))
    second = make_plan(make_run(user, "two"), keys=("b",))
    step_a = first.steps.get(key="a")
    step_b = second.steps.get(key="b")
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanStepDependency.objects.create(step=step_b, depends_on=step_a)
    assert not PlanStepDependency.objects.exists()


def test_plan_step_may_depend_on_step_of_same_plan_but_not_itself(user):
    plan = make_plan(make_run(user), keys=("a", "b"))
    step_a, step_b = plan.steps.get(key="a"), plan.steps.get(key="b")
    step_b.depends_on.add(step_a)
    assert list(step_b.depends_on.all()) == [step_a]
    assert list(step_a.dependents.all()) == [step_b]
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanStepDependency.objects.create(step=step_a, depends_on=step_a)


def test_step_keys_unique_within_plan(user):
    plan = make_plan(make_run(user), keys=("a",))
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanStep.objects.create(plan=plan, key="a", position=5, title="dup", instructions="x")


def test_executor_agent_must_be_read_only(user):
    run = make_run(user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Agent.objects.create(run=run, role="executor", model="m", permission="read_write")
    executor = services.agent_create(run=run, role=Agent.Role.EXECUTOR, model="m")
    assert executor.permission == Agent.Permission.READ_ONLY


def test_status_must_be_a_known_choice(user):
    run = make_run(user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.filter(pk=run.pk).update(status="exploded")


def test_only_one_active_run_per_session(user):
    run = make_run(user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(session=run.session, user=user, user_message=run.user_message)
    services.run_finish(run=run, status=Run.Status.COMPLETED)
    second = Run.objects.create(session=run.session, user=user, user_message=run.user_message)
    assert second.status == Run.Status.QUEUED


def test_deleting_session_removes_runs_plans_steps_events_and_conversations(user):
    run = make_run(user)
    plan = make_plan(run, keys=("a", "b"))
    step_a, step_b = plan.steps.order_by("position")
    step_b.depends_on.add(step_a)
    executor = services.agent_create(run=run, role=Agent.Role.EXECUTOR, model="m", parent=plan.agent)
    Execution.objects.create(run=run, step=step_a, agent=executor, task="t")
    AgentMessage.objects.create(agent=executor, run=run, role="assistant", content="hi", prompt_tokens=3)
    RunEvent.objects.create(run=run, seq=1, type="session", data={})
    other_run = make_run(user, "keep me")

    session_services.session_delete(session=run.session)

    for model in (Run, Plan, PlanStep, PlanStepDependency, Execution, Agent, AgentMessage, RunEvent):
        remaining = model.objects.all()
        if model is Run:
            assert list(remaining) == [other_run]
        else:
            assert not remaining.exists(), model.__name__
    assert not ChatSession.objects.filter(pk=run.session_id).exists()
    assert Message.objects.filter(session=other_run.session).count() == 1
