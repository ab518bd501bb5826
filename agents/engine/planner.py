"""The planner: routes a message, uses tools, plans, schedules executors, synthesises.

``execute_run(run_id)`` is the engine's entry point. It takes one queued run
to its end in the calling thread: ``session`` is its first event and ``done``
its last, exactly once, whatever happens in between.

Routing is one call (CONTRACT.md section 5): the planner is offered every
tool the user may use and ``create_plan``. A plain answer routes the message
``simple``; calls of other tools route it ``tool`` (the tool loop runs until
the planner answers in text); a ``create_plan`` call routes it ``complex``:
the plan is validated and stored, its steps run in executor threads as soon
as what they depend on has completed (independent steps at the same time, at
most AGENT_MAX_PARALLEL_EXECUTORS at once), and a last planner call, offered
no tools, writes the answer from the step results.
"""

import logging
import os
import socket
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import close_old_connections, connection

from agents import events
from agents.engine import prompts
from agents.engine.conversation import CANCEL_CHECK_INTERVAL, CancelWatch, Conversation, TextStream, parse_arguments
from agents.engine.executor import StepOutcome, run_step
from agents.exceptions import LLMError, RunCancelled, RunGone, RunLimitExceeded
from agents.llm.gateway import ToolCall
from agents.models import Agent, Plan, PlanStep, Run
from agents.runs import services
from agents.runs.plans import PlanInvalid, PlanSpec, create_plan_tool, parse_plan
from agents.tools import ToolContext, schemas
from sessions import selectors as session_selectors
from sessions import services as session_services
from sessions.models import Message

logger = logging.getLogger(__name__)

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
HISTORY_MESSAGES = 50


def estimate_tokens(text: str) -> int:
    """Estimate a text's tokens (about four characters each) for trimming history; usage comes from the model."""
    return max(1, len(text) // 4)


def planner_history(*, run: Run) -> list[dict[str, str]]:
    """Return the session's earlier messages, newest kept first, within AGENT_HISTORY_TOKENS."""
    earlier = session_selectors.message_history(session=run.session, before=run.user_message, limit=HISTORY_MESSAGES)
    kept: list[Message] = []
    used = 0
    for message in reversed(earlier):
        cost = estimate_tokens(message.content)
        if used + cost > settings.AGENT_HISTORY_TOKENS:
            break
        kept.append(message)
        used += cost
    return [{"role": message.role, "content": message.content} for message in reversed(kept)]


def execute_run(run_id) -> None:
    """Run one queued run to its end in this thread; never raises."""
    close_old_connections()
    try:
        try:
            run = Run.objects.select_related("session", "user", "user_message").get(pk=run_id)
        except Run.DoesNotExist:
            logger.warning("Run %s vanished before it started", run_id)
            return
        if not services.run_mark_running(run=run, worker=WORKER_NAME):
            logger.info("Run %s was no longer queued; not started", run_id)
            return
        RunExecution(run).execute()
    except RunGone:
        logger.info("Run %s was deleted or finished elsewhere while it ran; stopped", run_id)
    except Exception:
        logger.exception("Run %s could not be finished", run_id)
    finally:
        connection.close()


class RunExecution:
    """The planner's work on one run."""

    def __init__(self, run: Run):
        self.run = run
        self.cancel = CancelWatch(run.pk)
        self.route = ""
        self.planner: Agent | None = None
        self.answer: TextStream | None = None

    # --- lifecycle --------------------------------------------------------

    def execute(self) -> None:
        run = self.run
        status, error_code, error_message = Run.Status.COMPLETED, "", ""
        try:
            session = run.session
            events.emit(
                run,
                events.SESSION,
                session={
                    "id": str(session.pk),
                    "title": session.title,
                    "context_type": session.context_type,
                    "entity_id": session.entity_id,
                    "created_at": session.created_at,
                },
            )
            self.cancel.check()
            self.planner = services.agent_create(run=run, role=Agent.Role.PLANNER, model=settings.PLANNER_MODEL)
            self.answer = TextStream(run, self.planner)
            self.plan_or_answer()
        except RunGone:
            raise
        except RunCancelled:
            status = Run.Status.CANCELLED
        except LLMError as exc:
            status, error_code, error_message = Run.Status.FAILED, exc.code, exc.for_user(run_id=run.pk)
        except RunLimitExceeded as exc:
            status, error_code, error_message = Run.Status.FAILED, exc.code, exc.message
        except Exception:
            if not Run.objects.filter(pk=run.pk).exists():
                raise RunGone() from None  # a write raced the deletion of the run
            logger.exception("Run %s failed", run.pk)
            status, error_code, error_message = Run.Status.FAILED, "internal_error", "The run failed unexpectedly."
        self.finish(status=status, error_code=error_code, error_message=error_message)

    def finish(self, *, status: str, error_code: str, error_message: str) -> None:
        """Store the answer and the final status, then emit `error` (if any) and `done`, last."""
        run = self.run
        if self.cancel.gone:
            raise RunGone()
        message = None
        try:
            if self.answer is not None:
                self.answer.flush()
                if self.answer.text.strip():
                    run.refresh_from_db(fields=["prompt_tokens", "completion_tokens"])
                    message = session_services.message_create(
                        session=run.session,
                        role=Message.Role.ASSISTANT,
                        content=self.answer.text,
                        prompt_tokens=run.prompt_tokens,
                        completion_tokens=run.completion_tokens,
                    )
        except Exception:
            # The run must still end with `done`; left active, it would wait for the sweeper.
            if not Run.objects.filter(pk=run.pk).exists():
                raise RunGone() from None
            logger.exception("Run %s: the answer could not be stored", run.pk)
            status, error_code, error_message = Run.Status.FAILED, "internal_error", "The answer could not be stored."
            message = None
        if not services.run_end(
            run=run, status=status, assistant_message=message, error_code=error_code, error_message=error_message
        ):
            logger.warning("Run %s was finished by someone else (swept?); no second done", run.pk)

    def announce(self, route: str, reason: str) -> None:
        """Record and emit the route once it is known (again only if it changes)."""
        if route == self.route:
            return
        self.route = route
        Run.objects.filter(pk=self.run.pk).update(route=route, route_reason=reason)
        events.emit(self.run, events.ANALYSIS, strategy=route, reason=reason)

    def on_answer_text(self, delta: str) -> None:
        if not self.route:
            self.announce(Run.Route.SIMPLE, "The planner answered directly.")
        self.answer(delta)

    # --- routing and the tool loop ----------------------------------------

    def plan_or_answer(self) -> None:
        run, planner = self.run, self.planner
        conversation = Conversation(
            run=run,
            agent=planner,
            cancel=self.cancel,
            tool_context=ToolContext(user=run.user, run=run, session=run.session, agent=planner),
        )
        conversation.add("system", prompts.PLANNER_SYSTEM)
        for message in planner_history(run=run):
            conversation.add(message["role"], message["content"])
        conversation.add("user", run.user_message.content)
        tools = [*schemas(permission=planner.permission), create_plan_tool()]

        for _ in range(settings.AGENT_MAX_ITERATIONS):
            reply = conversation.call(tools=tools, on_text=self.on_answer_text)
            if not reply.tool_calls:
                if not self.route:
                    self.announce(Run.Route.SIMPLE, "The planner answered directly.")
                return
            plan_calls = [call for call in reply.tool_calls if call.name == "create_plan"]
            tool_calls = [call for call in reply.tool_calls if call.name != "create_plan"]
            if tool_calls and not plan_calls:
                names = ", ".join(dict.fromkeys(call.name for call in tool_calls))
                self.announce(Run.Route.TOOL, f"The planner called {names}.")
            for call in tool_calls:
                conversation.run_tool(call)
            if plan_calls and self.try_plan(conversation, plan_calls):
                return
            self.cancel.check()
        raise RunLimitExceeded(
            f"The planner made {settings.AGENT_MAX_ITERATIONS} model calls without finishing its answer.",
            code="iteration_limit",
        )

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
            events.emit(self.run, events.ERROR, code="invalid_plan", message=message, fatal=False)
            return False
        plan = services.plan_create(run=self.run, agent=self.planner, spec=spec)
        conversation.add_tool_result(
            call_id=call.id, name="create_plan", content={"ok": True, "plan_id": str(plan.pk), "steps": len(spec.steps)}
        )
        self.run_plan(plan, spec)
        return True

    # --- the plan ----------------------------------------------------------

    def run_plan(self, plan: Plan, spec: PlanSpec) -> None:
        steps = {step.key: step for step in plan.steps.order_by("position")}
        depends_on = {step.key: step.depends_on for step in spec.steps}
        events.emit(
            self.run,
            events.PLAN_CREATED,
            plan={
                "id": str(plan.pk),
                "objective": plan.objective,
                "steps": [
                    {
                        "id": str(step.pk),
                        "key": step.key,
                        "title": step.title,
                        "instructions": step.instructions,
                        "depends_on": [str(steps[dep].pk) for dep in depends_on[step.key]],
                        "status": step.status,
                    }
                    for step in steps.values()
                ],
            },
        )
        outcomes = self.schedule(steps, depends_on)
        self.cancel.check()
        self.synthesise(plan, steps, outcomes)

    def schedule(self, steps: dict[str, PlanStep], depends_on: dict[str, list[str]]) -> dict[str, StepOutcome]:
        """Run every step once its dependencies completed; skip those whose dependencies did not."""
        outcomes: dict[str, StepOutcome] = {}
        pending = list(steps)
        running: dict[Future, str] = {}
        cancelled = False
        limit = settings.AGENT_MAX_PARALLEL_EXECUTORS
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"executor-{str(self.run.pk)[:8]}") as pool:
            while pending or running:
                if not cancelled and self.cancel():
                    cancelled = True
                    for key in pending:
                        self.end_step(
                            steps[key], StepOutcome(PlanStep.Status.CANCELLED, error="The run was cancelled.")
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
                done, _ = wait(running, timeout=CANCEL_CHECK_INTERVAL, return_when=FIRST_COMPLETED)
                for future in done:
                    key = running.pop(future)
                    outcomes[key] = future.result()
                    self.end_step(steps[key], outcomes[key])
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
                    outcomes[key] = StepOutcome(PlanStep.Status.SKIPPED, error=f"Skipped: {titles} did not complete.")
                    self.end_step(steps[key], outcomes[key])
                    changed = True

    def start_step(self, pool, step: PlanStep, dependencies: list[str], outcomes) -> Future:
        services.step_start(step=step)
        events.emit(self.run, events.STEP_START, step={"id": str(step.pk), "key": step.key, "title": step.title})
        results = {dep: outcomes[dep].result for dep in dependencies}
        return pool.submit(
            run_step, run=self.run, step=step, planner=self.planner, dependency_results=results, cancel=self.cancel
        )

    def end_step(self, step: PlanStep, outcome: StepOutcome) -> None:
        services.step_finish(step=step, status=outcome.status, result=outcome.result, error=outcome.error)
        events.emit(
            self.run,
            events.STEP_COMPLETE,
            step={
                "id": str(step.pk),
                "key": step.key,
                "status": outcome.status,
                "result": outcome.result if outcome.status == PlanStep.Status.COMPLETED else outcome.error,
            },
        )

    def synthesise(self, plan: Plan, steps: dict[str, PlanStep], outcomes: dict[str, StepOutcome]) -> None:
        """Make the last planner call, offered no tools, streaming the answer from the step results."""
        conversation = Conversation(
            run=self.run,
            agent=self.planner,
            cancel=self.cancel,
            tool_context=ToolContext(user=self.run.user, run=self.run, session=self.run.session, agent=self.planner),
        )
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
