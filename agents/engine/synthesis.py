"""Synthesis: the planner's last call, offered no tools, writes the answer from the step results."""

from agents.engine import prompts
from agents.engine.executor import StepOutcome, end_step
from agents.engine.routing import UNFINISHED_CALLS
from agents.models import Approval, Plan, PlanStep
from agents.runs import selectors


class Synthesis:
    """Writing the answer after a plan (a part of ``RunExecution``)."""

    def synthesise(self, plan: Plan, steps: dict[str, PlanStep], outcomes: dict[str, StepOutcome]) -> None:
        """Make the last planner call, offered no tools, streaming the answer from the step results."""
        conversation = self.planner_conversation()
        conversation.add("system", prompts.SYNTHESIS_SYSTEM)
        results = [
            (step.title, outcomes[key].status, outcomes[key].result or outcomes[key].error)
            for key, step in steps.items()
        ]
        conversation.add(
            "user",
            prompts.synthesis_request(
                question=self.run.user_message.content, objective=plan.objective, step_results=results
            ),
        )
        conversation.call(tools=None, on_text=self.answer)

    def answer_without_plan(self, steps: dict[str, PlanStep], approval: Approval) -> None:
        """The user rejected the plan: its steps are skipped and the planner answers without executors."""
        reason = approval.reason if approval.status == Approval.Status.REJECTED else "no decision was made in time"
        for step in steps.values():
            if step.status not in PlanStep.FINISHED_STATUSES:
                end_step(self.run, step, StepOutcome(PlanStep.Status.SKIPPED, error="The user rejected the plan."))
        conversation = self.planner_conversation()
        stored = [
            row for row in selectors.agent_conversation(agent=self.planner) if row.finish_reason not in UNFINISHED_CALLS
        ]
        conversation.load(stored)
        last = stored[-1] if stored else None
        if last is not None and last.role == "assistant" and not last.tool_calls:
            self.answer(last.content)  # an earlier attempt had the whole answer
            return
        if last is None or last.role != "user":
            conversation.add("user", prompts.plan_rejected(reason=reason))
        conversation.call(tools=None, on_text=self.answer)
