"""Replanning: when a step failed or stalled, the planner may revise the plan (docs/architecture.md#replanning).

After the scheduler has finished every step of a plan version, a version
with a failed step (an executor that stalled, its iterations spent without a
result, fails its step too) is shown to the planner with every step's result
and the ``revise_plan`` tool, at most AGENT_MAX_REPLANS times per run:

- a valid ``revise_plan`` call becomes the next plan version: the completed
  steps are kept with their results (never run again), the new steps run in
  executors as usual, and `plan_revised` shows the new version. The version
  and its event commit together, so an attempt resumed after a crash finds
  both or neither;
- an invalid one goes back to the planner as a tool error, as create_plan's;
- an answer in text declines: the decision is stored on the version (a
  resumed run does not ask again) and synthesis goes on. Its words are the
  planner's `thinking`, never part of the answer.
"""

from django.conf import settings

from agents import events
from agents.engine import prompts
from agents.engine.conversation import Conversation
from agents.engine.executor import StepOutcome
from agents.events import catalogue
from agents.models import Plan, PlanStep, Run
from agents.runs import plan_versions
from agents.runs.plans import PlanInvalid, parse_plan, revise_plan_tool

REVISE_PLAN = "revise_plan"


def plan_info(plan: Plan, steps: dict[str, PlanStep], depends_on: dict[str, list[str]]) -> catalogue.PlanInfo:
    """Return a plan as `plan_created` and `plan_revised` carry it (a completed step with its result)."""
    items = []
    for step in steps.values():
        extra = {"result": step.result} if step.status == PlanStep.Status.COMPLETED else {}
        items.append(
            catalogue.PlanStepInfo(
                id=str(step.pk),
                key=step.key,
                title=step.title,
                instructions=step.instructions,
                depends_on=[str(steps[dep].pk) for dep in depends_on[step.key]],
                status=step.status,
                **extra,
            )
        )
    return catalogue.PlanInfo(id=str(plan.pk), objective=plan.objective, version=plan.version, steps=items)


def wants_revision(plan: Plan, outcomes: dict[str, StepOutcome]) -> bool:
    """Return whether the planner is to be asked to revise this version: a step failed and revisions are left."""
    return (
        any(outcome.status == PlanStep.Status.FAILED for outcome in outcomes.values())
        and not plan.revision_declined
        and plan.version - 1 < settings.AGENT_MAX_REPLANS
    )


def revision_reason(steps: dict[str, PlanStep], outcomes: dict[str, StepOutcome]) -> str:
    """Return why the plan is revised: each failed or stalled step with its error."""
    reasons = []
    for key, outcome in outcomes.items():
        if outcome.status != PlanStep.Status.FAILED:
            continue
        what = "stalled" if outcome.stalled else "failed"
        reasons.append(f"Step “{steps[key].title}” {what}: {outcome.error or 'no result'}")
    return " ".join(reasons)


def revise(
    *,
    run: Run,
    conversation: Conversation,
    plan: Plan,
    steps: dict[str, PlanStep],
    depends_on: dict[str, list[str]],
    outcomes: dict[str, StepOutcome],
) -> tuple[Plan, dict[str, PlanStep], dict[str, list[str]]] | None:
    """Ask the planner (in ``conversation``, a fresh planner conversation) to revise ``plan``.

    Returns the new version's (plan, steps by key, dependencies by key), or
    None when the planner declined.
    """
    kept = frozenset(key for key, outcome in outcomes.items() if outcome.status == PlanStep.Status.COMPLETED)
    conversation.add("system", prompts.REPLAN_SYSTEM)
    conversation.add(
        "user",
        prompts.revision_request(
            question=run.user_message.content,
            objective=plan.objective,
            step_results=[
                (key, step.title, depends_on[key], outcomes[key].status, outcomes[key].result or outcomes[key].error)
                for key, step in steps.items()
            ],
            revisions_left=settings.AGENT_MAX_REPLANS - plan.version,
        ),
    )
    tools = [revise_plan_tool()]
    for _ in range(settings.AGENT_MAX_ITERATIONS):
        reply = conversation.call(tools=tools, on_text=conversation.thinking)
        if not reply.tool_calls:
            break
        revision = next((call for call in reply.tool_calls if call.name == REVISE_PLAN), None)
        for call in reply.tool_calls:
            if call is not revision:
                conversation.add_tool_result(
                    call_id=call.id,
                    name=call.name,
                    content={"error": {"code": "invalid_plan", "message": "Only one revise_plan call is used."}}
                    if call.name == REVISE_PLAN
                    else {"error": {"code": "unknown_tool", "message": f"Only {REVISE_PLAN} is offered here."}},
                )
        if revision is None:
            continue
        try:
            spec = parse_plan(revision.arguments, kept=kept)
        except PlanInvalid as exc:
            message = f"The revised plan is invalid: {exc}. Fix it and call revise_plan again, or answer in text."
            conversation.add_tool_result(
                call_id=revision.id,
                name=REVISE_PLAN,
                content={"error": {"code": "invalid_plan", "message": message, "problems": exc.problems}},
            )
            events.emit(run, catalogue.ErrorEvent(code="invalid_plan", message=message, fatal=False))
            continue
        reason = revision_reason(steps, outcomes)
        revised, new_steps, new_depends_on = plan_versions.plan_revise(
            run=run, plan=plan, agent=conversation.agent, spec=spec, reason=reason
        )
        # The new version's rows are stored with its event (it carries them), in one transaction.
        events.emit(run, catalogue.PlanRevisedEvent(plan=plan_info(revised, new_steps, new_depends_on), reason=reason))
        conversation.add_tool_result(
            call_id=revision.id,
            name=REVISE_PLAN,
            content={"ok": True, "plan_id": str(revised.pk), "version": revised.version, "new_steps": len(spec.steps)},
        )
        return revised, new_steps, new_depends_on
    plan_versions.plan_decline_revision(plan=plan)
    return None
