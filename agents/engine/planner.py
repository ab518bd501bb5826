"""The planner: routes a message, uses tools, plans, schedules executors, synthesises.

``drive_run(run)`` is the engine's entry point, called by the runtime with a
run it has claimed. It takes the run to its end in the calling thread:
``session`` is its first event and ``done`` its last, exactly once. A run
that was claimed again after its owner was lost or drained (``attempt`` > 1)
resumes instead of starting over, because the stored run is the checkpoint:

- a ``resumed`` event tells clients, with ``answer_reset`` when answer text of
  the earlier attempt was already streamed (it is streamed again);
- with a plan stored, routing is skipped: completed steps keep their results
  and are not run again; steps of executions that were cut (marked
  ``interrupted`` by the claim) run again; then synthesis;
- without one, the planner's stored conversation is read back: a tool call
  whose result is stored is not called again, a finished answer is sent again
  without a model call, and the tool loop goes on from where it stopped.

Routing is one call (docs/architecture.md#routing): the planner is offered every
tool the user may use and ``create_plan``. A plain answer routes the message
``simple``; calls of other tools route it ``tool`` (the tool loop runs until
the planner answers in text); a ``create_plan`` call routes it ``complex``:
the plan is validated and stored, its steps run in executor threads as soon
as what they depend on has completed (independent steps at the same time, at
most AGENT_MAX_PARALLEL_EXECUTORS at once), and a last planner call, offered
no tools, writes the answer from the step results.

When the runtime asks for the run back (draining), or the lease was lost,
``drive_run`` raises RunReleased or RunGone and writes nothing more.
"""

import logging
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings

from agents import events
from agents.engine import approvals, context, prompts, replanning
from agents.engine.conversation import CANCEL_CHECK_INTERVAL, CancelWatch, Conversation, TextStream, parse_arguments
from agents.engine.executor import StepOutcome, end_step, run_step
from agents.events import catalogue
from agents.exceptions import LLMError, RunCancelled, RunGone, RunLimitExceeded
from agents.llm.gateway import ToolCall, estimate_tokens
from agents.models import Agent, Approval, Plan, PlanStep, Run
from agents.runs import approvals as run_approvals
from agents.runs import selectors, services
from agents.runs.connections import give_back_connection
from agents.runs.plans import PlanInvalid, PlanSpec, create_plan_tool, parse_plan
from agents.tools import ToolContext, schemas
from sessions.models import Message

logger = logging.getLogger(__name__)

HISTORY_MESSAGES = 50
UNFINISHED_CALLS = ("error", "cancelled")


def planner_history(*, run: Run) -> list[dict[str, str]]:
    """Return the session's earlier messages, newest kept first, within AGENT_HISTORY_TOKENS."""
    earlier = selectors.run_history(run=run, limit=HISTORY_MESSAGES)
    kept: list[Message] = []
    used = 0
    for message in reversed(earlier):
        cost = estimate_tokens(message.content)
        if used + cost > settings.AGENT_HISTORY_TOKENS:
            break
        kept.append(message)
        used += cost
    return [{"role": message.role, "content": message.content} for message in reversed(kept)]


def drive_run(run: Run, *, should_release: Callable[[], bool] | None = None) -> None:
    """Take a claimed run to its end (or resume it); raises RunGone or RunReleased when it must stop writing."""
    RunExecution(run, should_release=should_release).execute()


class RunExecution:
    """The planner's work on one run, for one attempt."""

    def __init__(self, run: Run, *, should_release: Callable[[], bool] | None = None):
        self.run = run
        self.cancel = CancelWatch(run, should_release=should_release)
        self.route = run.route
        self.plan_settled = False  # every step of the plan ended
        self.planner: Agent | None = None
        self.answer: TextStream | None = None

    # --- lifecycle --------------------------------------------------------

    def execute(self) -> None:
        run = self.run
        status, error_code, error_message, error_detail = Run.Status.COMPLETED, "", "", ""
        try:
            self.begin()
            self.cancel.check()
            earlier = selectors.run_planner(run=run) if run.attempt > 1 else None
            self.planner = earlier or services.agent_create(
                run=run, role=Agent.Role.PLANNER, model=settings.PLANNER_MODEL
            )
            self.answer = TextStream(run, self.planner)
            plan = selectors.run_plan(run=run) if run.attempt > 1 else None
            if plan is not None:
                self.run_plan(plan, resumed=True)
            else:
                self.plan_or_answer()
        except RunGone:
            raise
        except RunCancelled:
            status = Run.Status.CANCELLED
        except LLMError as exc:
            status, error_code, error_message = Run.Status.FAILED, exc.code, exc.for_user(run_id=run.pk)
            error_detail = getattr(exc, "detail", "") or ""
        except RunLimitExceeded as exc:
            status, error_code, error_message = Run.Status.FAILED, exc.code, exc.message
        except Exception as exc:
            if selectors.run_control(run_id=run.pk) is None:
                raise RunGone() from None  # a write raced the deletion of the run
            logger.exception("Run %s failed", run.pk)
            status, error_code, error_message = Run.Status.FAILED, "internal_error", "The run failed unexpectedly."
            error_detail = f"{exc.__class__.__name__}"
        self.finish(status=status, error_code=error_code, error_message=error_message, error_detail=error_detail)

    def begin(self) -> None:
        """Emit the run's first event, or, for a later attempt, say that the run resumes."""
        run = self.run
        if run.last_event_seq == 0:
            session = run.session
            events.emit(run, services.session_event(session))  # a claimed run's claim stored it
        elif run.attempt > 1:
            events.emit(
                run,
                catalogue.ResumedEvent(
                    attempt=run.attempt,
                    reason=run.resume_reason or "worker_lost",
                    answer_reset=selectors.run_streamed_answer(run_id=run.pk),
                ),
            )

    def finish(self, *, status: str, error_code: str, error_message: str, error_detail: str = "") -> None:
        """Store the answer and the final status, with `error` (if any) and `done` last, in one transaction."""
        run = self.run
        if self.cancel.gone:
            raise RunGone()
        answer, preceding = "", []
        if self.answer is not None:
            # The answer's last piece goes out with `done`, in the transaction that ends the run.
            preceding = self.answer.take()
            answer = self.answer.text
        try:
            finished = services.run_finish(
                run=run,
                status=status,
                answer=answer,
                preceding=preceding,
                error_code=error_code,
                error_message=error_message,
                error_detail=error_detail,
                fenced=True,
                # Every step of a settled plan ended (and stored so): nothing is left open to close.
                close_open_work=self.route == Run.Route.COMPLEX and not self.plan_settled,
            )
        except Exception as exc:
            # The run must still end with `done`; left active, it would wait for the sweeper.
            if selectors.run_control(run_id=run.pk) is None:
                raise RunGone() from None
            logger.exception("Run %s: the answer could not be stored", run.pk)
            finished = services.run_finish(
                run=run,
                status=Run.Status.FAILED,
                error_code="internal_error",
                error_message="The answer could not be stored.",
                error_detail=exc.__class__.__name__,
                fenced=True,
            )
        if not finished:
            logger.warning("Run %s was finished or taken over by someone else; no second done", run.pk)

    def announce(self, route: str, reason: str) -> None:
        """Record and emit the route once it is known (again only if it changes).

        The route is stored by its event's batch, which goes out with what the route
        announces, at once: the answer's first text, the tool call, the plan (or `done`).
        """
        if route == self.route:
            return
        self.route = route
        events.emit(
            self.run,
            catalogue.AnalysisEvent(strategy=route, reason=reason),
            run_update={"route": route, "route_reason": reason},
            later=True,
        )
        self.run.route, self.run.route_reason = route, reason

    def on_answer_text(self, delta: str) -> None:
        if not self.route:
            self.announce(Run.Route.SIMPLE, "The planner answered directly.")
        self.answer(delta)

    def planner_conversation(self) -> Conversation:
        run, planner = self.run, self.planner
        return Conversation(
            run=run,
            agent=planner,
            cancel=self.cancel,
            tool_context=ToolContext(user=run.user, run=run, session=run.session, agent=planner),
        )

    # --- routing and the tool loop ----------------------------------------

    def plan_or_answer(self) -> None:
        run = self.run
        conversation = self.planner_conversation()
        stored = selectors.agent_conversation(agent=self.planner) if run.attempt > 1 else []
        # A call cut by the lost attempt is stored (and charged) but is no reply to continue from.
        stored = [row for row in stored if row.finish_reason not in UNFINISHED_CALLS]
        if stored:
            conversation.load(stored)
        else:
            session = run.session
            conversation.add(
                "system",
                context.planner_system(user=run.user, context_type=session.context_type, entity_id=session.entity_id),
            )
            for message in planner_history(run=run):
                conversation.add(message["role"], message["content"])
            conversation.add("user", run.user_message.content)
        tools = [*schemas(permission=self.planner.permission), create_plan_tool()]

        last = stored[-1] if stored else None
        if last is not None and last.role == "assistant" and not last.tool_calls:
            # The earlier attempt had the whole answer: send it again, no model call.
            self.on_answer_text(last.content)
            return
        unanswered = conversation.unanswered_calls()
        if unanswered and self.handle_calls(conversation, unanswered):
            return
        calls_made = sum(1 for row in stored if row.role == "assistant")
        for _ in range(max(0, settings.AGENT_MAX_ITERATIONS - calls_made)):
            reply = conversation.call(tools=tools, on_text=self.on_answer_text)
            if not reply.tool_calls:
                if not self.route:
                    self.announce(Run.Route.SIMPLE, "The planner answered directly.")
                return
            if self.handle_calls(conversation, reply.tool_calls):
                return
            self.cancel.check()
        raise RunLimitExceeded(
            f"The planner made {settings.AGENT_MAX_ITERATIONS} model calls without finishing its answer.",
            code="iteration_limit",
        )

    def handle_calls(self, conversation: Conversation, calls: list[ToolCall]) -> bool:
        """Run the planner's tool calls, or its plan; True once a plan ran (the answer is then written)."""
        plan_calls = [call for call in calls if call.name == "create_plan"]
        tool_calls = [call for call in calls if call.name != "create_plan"]
        if tool_calls and not plan_calls:
            names = ", ".join(dict.fromkeys(call.name for call in tool_calls))
            self.announce(Run.Route.TOOL, f"The planner called {names}.")
        approvals.run_tool_calls(conversation, tool_calls)
        return bool(plan_calls) and self.try_plan(conversation, plan_calls)

    def try_plan(self, conversation: Conversation, plan_calls: list[ToolCall]) -> bool:
        """Validate and run the first plan; an invalid one goes back to the planner. True once a plan ran."""
        call, *extra = plan_calls
        for duplicate in extra:
            conversation.add_tool_result(
                call_id=duplicate.id,
                name="create_plan",
                content={
                    "error": {"code": "invalid_plan", "message": "Only one plan per answer; this one was ignored."}
                },
            )
        arguments = parse_arguments(call.arguments)
        objective = arguments.get("objective") if isinstance(arguments, dict) else None
        self.announce(
            Run.Route.COMPLEX,
            f"The request needs a plan: {objective}"
            if isinstance(objective, str) and objective
            else "The request needs a plan.",
        )
        try:
            spec = parse_plan(call.arguments)
        except PlanInvalid as exc:
            message = f"The plan is invalid: {exc}. Fix it and call create_plan again."
            conversation.add_tool_result(
                call_id=call.id,
                name="create_plan",
                content={"error": {"code": "invalid_plan", "message": message, "problems": exc.problems}},
            )
            events.emit(self.run, catalogue.ErrorEvent(code="invalid_plan", message=message, fatal=False))
            return False
        plan = services.plan_create(run=self.run, agent=self.planner, spec=spec)
        conversation.add_tool_result(
            call_id=call.id, name="create_plan", content={"ok": True, "plan_id": str(plan.pk), "steps": len(spec.steps)}
        )
        self.run_plan(plan, spec=spec)
        return True

    # --- the plan ----------------------------------------------------------

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
