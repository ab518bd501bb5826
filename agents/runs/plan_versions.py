"""Plan versions: the writes of a revision (docs/architecture.md#replanning).

A revision is a new ``Plan`` row of the same run, ``version`` one more than
the plan it revises and ``previous`` pointing at it. The completed steps of
the previous version are copied into it first (``kept_from`` names the
original, whose executions stay where they are), with their results, so new
steps can depend on them inside their own plan (a dependency never crosses
plans) and the scheduler never runs them again. The older version stays
as it was: the admin shows every version of a run.
"""

from django.utils import timezone

from agents import events
from agents.models import Agent, Plan, PlanStep, PlanStepDependency, Run
from agents.runs.plans import PlanSpec


def plan_revise(
    *, run: Run, plan: Plan, agent: Agent, spec: PlanSpec, reason: str
) -> tuple[Plan, dict[str, PlanStep], dict[str, list[str]]]:
    """Build the next version of ``plan``: its completed steps kept, then ``spec``'s new steps.

    Returns (the version, its steps by key, their dependencies by key). Its
    rows are stored with the run's next batch of events, the one of
    `plan_revised` (which carries them): a run resumed after a crash finds the
    new version and its event, or neither.
    """
    now = timezone.now()
    revised = Plan(
        run_id=plan.run_id,
        agent=agent,
        objective=spec.objective,
        version=plan.version + 1,
        previous=plan,
        revision_reason=reason,
    )
    completed = list(plan.steps.filter(status=PlanStep.Status.COMPLETED).order_by("position"))
    steps: dict[str, PlanStep] = {}
    for position, step in enumerate(completed):
        steps[step.key] = PlanStep(
            plan=revised,
            key=step.key,
            position=position,
            title=step.title,
            instructions=step.instructions,
            status=PlanStep.Status.COMPLETED,
            result=step.result,
            kept_from=step,
            started_at=step.started_at,
            finished_at=step.finished_at or now,
        )
    for position, step_spec in enumerate(spec.steps, start=len(completed)):
        steps[step_spec.key] = PlanStep(
            plan=revised,
            key=step_spec.key,
            position=position,
            title=step_spec.title,
            instructions=step_spec.instructions,
        )
    kept_edges = list(
        PlanStepDependency.objects.filter(step__in=completed, depends_on__in=completed).values_list(
            "step__key", "depends_on__key"
        )
    )
    depends_on: dict[str, list[str]] = {key: [] for key in steps}
    for key, dep in kept_edges:
        depends_on[key].append(dep)
    for step_spec in spec.steps:
        depends_on[step_spec.key].extend(step_spec.depends_on)
    edges = [
        PlanStepDependency(step=steps[key], depends_on=steps[dep]) for key, deps in depends_on.items() for dep in deps
    ]
    events.defer(run, revised, *steps.values(), *edges)
    return revised, steps, depends_on


def plan_decline_revision(*, plan: Plan) -> None:
    """Record that the planner was asked to revise ``plan`` and declined (a resumed run does not ask again)."""
    Plan.objects.filter(pk=plan.pk).update(revision_declined=True)
    plan.revision_declined = True
