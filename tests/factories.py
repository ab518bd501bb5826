"""Small builders of stored objects for tests."""

from agents.events import catalogue
from agents.models import Agent, Plan, PlanStep, Run
from agents.runs import services


def make_run(user, message: str = "hello", session_id=None) -> Run:
    run, _ = services.run_create(user=user, message=message, session_id=session_id)
    return run


def make_plan(run: Run, keys=("a", "b")) -> Plan:
    planner = services.agent_create(run=run, role=Agent.Role.PLANNER, model="m")
    plan = Plan.objects.create(run=run, agent=planner, objective="objective")
    for position, key in enumerate(keys):
        PlanStep.objects.create(plan=plan, key=key, position=position, title=key, instructions=f"do {key}")
    return plan


def session_event(run: Run) -> catalogue.SessionEvent:
    """Return the `session` event of a run, as the engine builds it."""
    session = run.session
    return catalogue.SessionEvent(
        session=catalogue.SessionInfo(
            id=str(session.pk),
            title=session.title,
            context_type=session.context_type,
            entity_id=session.entity_id,
            created_at=session.created_at,
        )
    )


def done_event(status: str = "completed") -> catalogue.DoneEvent:
    """Return a `done` event with no answer and no usage."""
    return catalogue.DoneEvent(status=status, message_id=None, usage=catalogue.Usage(), duration_ms=None)
