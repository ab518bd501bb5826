"""Scheduling: a plan's steps run in executor threads as soon as what they depend on has completed.

Independent steps run at the same time, at most AGENT_MAX_PARALLEL_EXECUTORS
at once; a step behind one that did not complete is skipped; a plan the user
reviews waits for the decision; a failed step may revise the plan.
"""

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings

from agents import events
from agents.engine import approvals, replanning
from agents.engine.cancel import CANCEL_CHECK_INTERVAL
from agents.engine.executor import StepOutcome, end_step, run_step
from agents.events import catalogue
from agents.exceptions import RunCancelled, RunLimitExceeded
from agents.models import Approval, Plan, PlanStep
from agents.runs import approvals as run_approvals
from agents.runs import selectors, services
from agents.runs.connections import give_back_connection
from agents.runs.plans import PlanSpec


class Scheduling:
    """Running a stored plan (a part of ``RunExecution``)."""

    def run_plan(self, plan: Plan, *, spec: PlanSpec | None = None, resumed: bool = False) -> None:
        """Announce the plan (once), let the user review it if asked, run the unfinished steps, revise it where a
        step failed, then write the answer."""
        if spec is not None:
            steps = {step.key: step for step in sorted(plan.steps.all(), key=lambda step: step.position)}
            depends_on = {step.key: step.depends_on for step in spec.steps}
        else:
            steps, depends_on = selectors.plan_graph(plan=plan)
        if not resumed or not selectors.run_has_event(run_id=self.run.pk, type=events.PLAN_CREATED):
            # A revised version (resumed) had its `plan_revised` committed with it.
            events.emit(self.run, catalogue.PlanCreatedEvent(plan=replanning.plan_info(plan, steps, depends_on)))
        if self.run.review_plan and plan.version == 1:
            approval = approvals.review_plan(
                run=self.run,
                planner_agent=self.planner,
                cancel=self.cancel,
                plan=plan,
                payload=replanning.plan_info(plan, steps, depends_on).model_dump(mode="json", exclude_unset=True),
            )
            if approval.status != Approval.Status.APPROVED:
                self.answer_without_plan(steps, approval)
                return
            if approval.decided_arguments is not None:
                plan.refresh_from_db()
                steps, depends_on = selectors.plan_graph(plan=plan)
                if approval.executed_at is None:
                    # The user's steps replaced the proposed ones: clients get the plan that runs.
                    events.emit(
                        self.run,
                        catalogue.PlanCreatedEvent(plan=replanning.plan_info(plan, steps, depends_on)),
                        writes=lambda: run_approvals.approval_mark_executed(approval=approval),
                    )
        finished = {
            key: StepOutcome(step.status, result=step.result, error=step.error)
            for key, step in steps.items()
            if step.status in PlanStep.FINISHED_STATUSES
        }
        outcomes = self.schedule(steps, depends_on, finished)
        self.plan_settled = len(outcomes) == len(steps)
        self.cancel.check()
        while replanning.wants_revision(plan, outcomes):
            revised = replanning.revise(
                run=self.run,
                conversation=self.planner_conversation(),
                plan=plan,
                steps=steps,
                depends_on=depends_on,
                outcomes=outcomes,
            )
            if revised is None:
                break
            plan, steps, depends_on = revised
            completed = PlanStep.Status.COMPLETED
            kept = {key: StepOutcome(completed, result=step.result) for key, step in steps.items() if step.kept_from_id}
            outcomes = self.schedule(steps, depends_on, kept)
            self.cancel.check()
        self.synthesise(plan, steps, outcomes)

    def schedule(
        self, steps: dict[str, PlanStep], depends_on: dict[str, list[str]], finished: dict[str, StepOutcome]
    ) -> dict[str, StepOutcome]:
        """Run every unfinished step once its dependencies completed; skip those whose dependencies did not."""
        outcomes: dict[str, StepOutcome] = dict(finished)
        pending = [key for key in steps if key not in outcomes]
        running: dict[Future, str] = {}
        cancelled = False
        limit = settings.AGENT_MAX_PARALLEL_EXECUTORS
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"executor-{str(self.run.pk)[:8]}") as pool:
            while pending or running:
                if not cancelled and self.cancel():
                    cancelled = True
                    for key in pending:
                        end_step(
                            self.run, steps[key], StepOutcome(PlanStep.Status.CANCELLED, error="The run was cancelled.")
                        )
                    pending = []
                self.skip_blocked(steps, depends_on, pending, outcomes)
                ready = [key for key in pending if all(dep in outcomes for dep in depends_on[key])]
                for key in ready[: max(0, limit - len(running))]:
                    pending.remove(key)
                    running[self.start_step(pool, steps[key], depends_on[key], outcomes)] = key
                if not running:
                    if pending:  # unreachable for a validated (acyclic) plan; never spin
                        raise RunLimitExceeded("The plan's steps wait on each other.", code="plan_stalled")
                    continue
                give_back_connection()  # nothing is written while the executors work
                done, _ = wait(running, timeout=CANCEL_CHECK_INTERVAL, return_when=FIRST_COMPLETED)
                for future in done:
                    key = running.pop(future)
                    outcomes[key] = future.result()  # the executor stored the step's end with its own
        if cancelled:
            raise RunCancelled()
        return outcomes

    def skip_blocked(self, steps, depends_on, pending: list[str], outcomes: dict[str, StepOutcome]) -> None:
        """Skip pending steps with a dependency that did not complete (cascading through the graph)."""
        changed = True
        while changed:
            changed = False
            for key in list(pending):
                blocked = [dep for dep in depends_on[key] if dep in outcomes and outcomes[dep].status != "completed"]
                if blocked:
                    pending.remove(key)
                    titles = ", ".join(steps[dep].title for dep in blocked)
                    if any(outcomes[dep].status == PlanStep.Status.CANCELLED for dep in blocked):
                        # Behind a cancelled step, a step is cancelled too, whichever the scheduler sees first.
                        outcomes[key] = StepOutcome(PlanStep.Status.CANCELLED, error="The run was cancelled.")
                    else:
                        outcomes[key] = StepOutcome(
                            PlanStep.Status.SKIPPED, error=f"Skipped: {titles} did not complete."
                        )
                    end_step(self.run, steps[key], outcomes[key])
                    changed = True

    def start_step(self, pool, step: PlanStep, dependencies: list[str], outcomes) -> Future:
        events.emit(
            self.run,
            catalogue.StepStartEvent(step=catalogue.StepRef(id=str(step.pk), key=step.key, title=step.title)),
            writes=lambda: services.step_start(step=step),
            later=True,  # goes out with its executor's `executor_spawned`, in one batch
        )
        results = {dep: outcomes[dep].result for dep in dependencies}
        return pool.submit(
            run_step, run=self.run, step=step, planner=self.planner, dependency_results=results, cancel=self.cancel
        )
