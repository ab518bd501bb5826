"""The run's parts as it goes: agents, their messages, the plan, steps, executions, route, trace and usage."""

import threading
from datetime import datetime
from typing import Any

from django.utils import timezone

from agents import events
from agents.llm.usage import Usage
from agents.models import Agent, AgentMessage, Execution, Plan, PlanStep, PlanStepDependency, Run
from agents.runs.plans import PlanSpec

_usage_lock = threading.Lock()


def run_set_trace_id(*, run: Run, trace_id: str) -> None:
    """Record the run's OpenTelemetry trace id."""
    Run.objects.filter(pk=run.pk).update(trace_id=trace_id)
    run.trace_id = trace_id


def run_set_route(*, run: Run, route: str, reason: str) -> None:
    """Record the planner's route and why."""
    Run.objects.filter(pk=run.pk).update(route=route, route_reason=reason)
    run.route, run.route_reason = route, reason


def run_add_usage(*, run: Run, usage: Usage) -> None:
    """Add LLM calls' usage and cost to the run, atomically (executors add in parallel).

    The session gets the run's cost once, when the run finishes (``run_finish``).
    """
    counters = usage.counters()
    if not usage.cost_usd:
        del counters["cost_usd"]
    if usage.cost_known:
        del counters["cost_known"]  # only a False flag is written
    # With the run's next batch of events (its owner's), or now: one fenced UPDATE carries both.
    events.add_usage(run, **counters)
    with _usage_lock:  # the owner's copy (its threads add in parallel): run_finish reads no row back
        total = Usage.of(run) + usage
        for name, value in total.counters().items():
            setattr(run, name, value)


def agent_create(*, run: Run, role: str, model: str, parent: Agent | None = None) -> Agent:
    """Create a planner (read-write) or an executor (always read-only) for a run."""
    permission = Agent.Permission.READ_ONLY if role == Agent.Role.EXECUTOR else Agent.Permission.READ_WRITE
    agent = Agent(run=run, role=role, model=model, permission=permission, parent=parent)
    events.defer(run, agent)  # stored with the run's next batch of events (the owner's), or now
    return agent


def agent_message_create(*, agent: Agent, run: Run, role: str, **fields: Any) -> AgentMessage:
    """Store one message of an agent's LLM conversation (an assistant row is one LLM call, with its usage).

    A claimed run's rows are stored with its next batch of events after the model call: one transaction per call.
    """
    message = AgentMessage(agent=agent, run=run, role=role, **fields)
    events.defer(run, message)
    return message


def plan_create(*, run: Run, agent: Agent, spec: PlanSpec) -> Plan:
    """Store a validated plan with its steps and dependency edges, all or nothing.

    A claimed run's plan is stored with its next batch (the one of `plan_created`). The
    plan's steps are at hand as ``plan.steps.all()`` (in order) without a query.
    """
    plan = Plan(run=run, agent=agent, objective=spec.objective)
    created = [
        PlanStep(plan=plan, key=step.key, position=position, title=step.title, instructions=step.instructions)
        for position, step in enumerate(spec.steps)
    ]
    steps = {step.key: step for step in created}
    edges = [
        PlanStepDependency(step=steps[step.key], depends_on=steps[dep])
        for step in spec.steps
        for dep in step.depends_on
    ]
    events.defer(run, plan, *created, *edges)
    cached = plan.steps.all()  # as a prefetch would leave it: plan.steps.all() needs no query
    cached._result_cache, cached._prefetch_done = created, True
    plan._prefetched_objects_cache = {"steps": cached}
    return plan


def step_start(*, step: PlanStep) -> None:
    """Mark a pending step running."""
    now = timezone.now()
    PlanStep.objects.filter(pk=step.pk).update(status=PlanStep.Status.RUNNING, started_at=now)
    step.status, step.started_at = PlanStep.Status.RUNNING, now


def step_finish(*, step: PlanStep, status: str, result: str = "", error: str = "") -> None:
    """Give a step its final status, result or error."""
    now = timezone.now()
    PlanStep.objects.filter(pk=step.pk).update(status=status, result=result, error=error, finished_at=now)
    step.status, step.result, step.error, step.finished_at = status, result, error, now


def execution_start(*, run: Run, step: PlanStep, agent: Agent, task: str) -> Execution:
    """Record that an executor took on a step (stored with the run's next batch, after its agent)."""
    execution = Execution(run=run, step=step, agent=agent, task=task, started_at=timezone.now())
    events.defer(run, execution)
    return execution


def execution_finish(
    *,
    execution: Execution,
    status: str,
    result: str = "",
    error: str = "",
    usage: Usage,
    finished_at: datetime | None = None,
) -> None:
    """Give an execution its final status and usage (tokens, calls, ``cost_usd`` and ``cost_known``)."""
    now = finished_at or timezone.now()
    counts = usage.counters()
    Execution.objects.filter(pk=execution.pk).update(
        status=status, result=result, error=error, finished_at=now, **counts
    )
    execution.status, execution.result, execution.error, execution.finished_at = status, result, error, now
    for name, value in counts.items():
        setattr(execution, name, value)
