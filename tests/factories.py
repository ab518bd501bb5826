"""Small builders of stored objects for tests."""

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
