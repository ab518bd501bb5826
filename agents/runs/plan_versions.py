"""Plan versions: the writes of a revision (CONTRACT.md section 5, replanning).

A revision is a new ``Plan`` row of the same run, ``version`` one more than
the plan it revises and ``previous`` pointing at it. The completed steps of
the previous version are copied into it first (``kept_from`` names the
original, whose executions stay where they are), with their results, so new
steps can depend on them inside their own plan (a dependency never crosses
plans) and the scheduler never runs them again. The older version stays
as it was: the admin shows every version of a run.
"""

from django.db import transaction
from django.utils import timezone

from agents.models import Agent, Plan, PlanStep, PlanStepDependency
from agents.runs.plans import PlanSpec


def plan_revise(*, plan: Plan, agent: Agent, spec: PlanSpec, reason: str) -> Plan:
    """Store the next version of ``plan``: its completed steps kept, then ``spec``'s new steps; all or nothing.

    Call it inside the transaction that emits `plan_revised`, so a run resumed
    after a crash finds the new version and its event, or neither.
    """
    now = timezone.now()
    with transaction.atomic():
        revised = Plan.objects.create(
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
            steps[step.key] = PlanStep.objects.create(
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
            steps[step_spec.key] = PlanStep.objects.create(
                plan=revised,
                key=step_spec.key,
                position=position,
                title=step_spec.title,
                instructions=step_spec.instructions,
            )
        kept_edges = PlanStepDependency.objects.filter(step__in=completed, depends_on__in=completed).values_list(
            "step__key", "depends_on__key"
        )
        PlanStepDependency.objects.bulk_create(
            [
                *(PlanStepDependency(step=steps[key], depends_on=steps[dep]) for key, dep in kept_edges),
                *(
                    PlanStepDependency(step=steps[step_spec.key], depends_on=steps[dep])
                    for step_spec in spec.steps
                    for dep in step_spec.depends_on
                ),
            ]
        )
    return revised


def plan_decline_revision(*, plan: Plan) -> None:
    """Record that the planner was asked to revise ``plan`` and declined (a resumed run does not ask again)."""
    Plan.objects.filter(pk=plan.pk).update(revision_declined=True)
    plan.revision_declined = True
