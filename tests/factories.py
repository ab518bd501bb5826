"""Small builders of stored objects for tests."""

from agents.events import catalogue
from agents.models import Agent, Plan, PlanStep, Run, RunEvent
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
    return services.session_event(run.session)


def done_event(status: str = "completed") -> catalogue.DoneEvent:
    """Return a `done` event with no answer and no usage."""
    return catalogue.DoneEvent(status=status, message_id=None, usage=catalogue.Usage(), duration_ms=None)


def run_message(user, message: str, session_id=None) -> Run:
    """Store a message's run and execute it here, to its end; return it as stored."""
    from agents.runtime.worker import execute_run

    run, _ = services.run_create(user=user, message=message, session_id=session_id)
    execute_run(run.pk)
    run.refresh_from_db()
    return run


def stored_events(run: Run) -> list[dict]:
    """Return the run's stored events, in order."""
    return [event.data for event in RunEvent.objects.filter(run=run).order_by("seq")]


def types(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]
