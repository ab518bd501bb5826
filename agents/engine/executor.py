"""One executor agent working on one plan step, with read-only tools only."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import OperationalError, close_old_connections, connection
from django.utils import timezone

from agents import events
from agents.engine import prompts
from agents.engine.cancel import CancelWatch
from agents.engine.conversation import Conversation
from agents.events import catalogue
from agents.exceptions import LLMError, RunCancelled, RunGone, RunLimitExceeded, RunReleased
from agents.models import Agent, Execution, PlanStep, Run
from agents.runs import selectors, services
from agents.telemetry import tracing
from agents.tools import ToolContext, schemas

logger = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    status: str  # a PlanStep status: completed, failed or cancelled
    result: str = ""
    error: str = ""
    stalled: bool = False  # failed because its iterations ran out without a result


def run_step(
    *, run: Run, step: PlanStep, planner: Agent, dependency_results: dict[str, str], cancel: CancelWatch
) -> StepOutcome:
    """Run one step in a new executor agent (in the calling thread) and store and emit what happens.

    Never raises: a failure of the model or of the limits fails the step, a
    cancel cancels it. Closes this thread's database connection at the end.
    """
    close_old_connections()
    try:
        for attempt in (1, 2):
            try:
                return _run_step(
                    run=run, step=step, planner=planner, dependency_results=dependency_results, cancel=cancel
                )
            except OperationalError as exc:
                # The database could not be reached (a full pool, a restart): the step fails, not the run.
                logger.warning("Step %s: database unavailable (%s), attempt %d of 2", step.pk, exc, attempt)
                connection.close()
        outcome = StepOutcome(status=PlanStep.Status.FAILED, error="The database was too busy to run this step.")
        end_step(run, step, outcome)
        return outcome
    except RunReleased:
        raise  # the run is handed back; the next owner runs the step again
    except RunGone:
        return StepOutcome(status=PlanStep.Status.CANCELLED, error="The run was deleted.")
    finally:
        connection.close()


def _run_step(
    *, run: Run, step: PlanStep, planner: Agent, dependency_results: dict[str, str], cancel: CancelWatch
) -> StepOutcome:
    agent = services.agent_create(run=run, role=Agent.Role.EXECUTOR, model=settings.EXECUTOR_MODEL, parent=planner)
    task = prompts.executor_task(
        title=step.title, instructions=step.instructions, dependency_results=dependency_results
    )
    execution = services.execution_start(run=run, step=step, agent=agent, task=task)
    events.emit(
        run,
        catalogue.ExecutorSpawnedEvent(
            executor_id=str(agent.pk),
            step_id=str(step.pk),
            task=catalogue.TaskInfo(title=step.title, instructions=step.instructions),
        ),
    )
    conversation = Conversation(
        run=run,
        agent=agent,
        cancel=cancel,
        tool_context=ToolContext(user=run.user, run=run, session=run.session, agent=agent),
    )
    conversation.add("system", prompts.EXECUTOR_SYSTEM)
    conversation.add("user", task)
    tools = schemas(permission=agent.permission)

    status, result, error = Execution.Status.FAILED, "", ""
    stalled = False
    over_limit: RunLimitExceeded | None = None
    try:
        for _ in range(settings.AGENT_MAX_ITERATIONS):
            reply = conversation.call(tools=tools)
            if not reply.tool_calls:
                status, result = Execution.Status.COMPLETED, reply.content.strip()
                break
            # Its words before or between tool calls are progress, shown as thinking; its last reply is the result.
            conversation.thinking(reply.content)
            conversation.thinking.flush()
            for call in reply.tool_calls:
                conversation.run_tool(call)
        else:
            error = f"The executor made {settings.AGENT_MAX_ITERATIONS} model calls without finishing its step."
            stalled = True
    except (RunGone, OperationalError):
        raise
    except RunCancelled:
        status, error = Execution.Status.CANCELLED, "The run was cancelled."
    except LLMError as exc:
        error = exc.for_user(run_id=run.pk)
    except RunLimitExceeded as exc:
        # A run limit (tokens, dollars) ends the run, not only this step: raised again once the step is stored.
        error, over_limit = exc.message, exc
    except Exception:
        if selectors.run_deleted(run_id=run.pk):
            raise RunGone() from None  # a write raced the deletion of the run
        logger.exception("Executor %s failed on step %s", agent.pk, step.pk)
        error = "The executor failed unexpectedly."

    usage = conversation.usage
    step_status = {
        Execution.Status.COMPLETED: PlanStep.Status.COMPLETED,
        Execution.Status.CANCELLED: PlanStep.Status.CANCELLED,
    }.get(status, PlanStep.Status.FAILED)
    outcome = StepOutcome(status=step_status, result=result, error=error, stalled=stalled)
    # The execution, its step and their events commit together: an owner lost after this point
    # leaves a finished step (never run again), before it a running one (run again by the next owner).
    # The run's row is locked first (by the events' fenced update), as every writer of a run does.
    finished_at = timezone.now()

    def writes() -> None:
        services.execution_finish(
            execution=execution,
            status=status,
            result=result,
            error=error,
            usage=usage,
            finished_at=finished_at,
        )
        services.step_finish(step=step, status=outcome.status, result=outcome.result, error=outcome.error)

    events.emit(
        run,
        catalogue.ExecutorResultEvent(
            executor_id=str(agent.pk),
            step_id=str(step.pk),
            status=status,
            result=result if status == Execution.Status.COMPLETED else error,
            usage=catalogue.Usage(**usage.event()),
            duration_ms=int((finished_at - execution.started_at).total_seconds() * 1000),
        ),
        step_complete(step, outcome),
        writes=writes,
    )
    tracing.end_agent(run_id=str(run.pk), agent_id=str(agent.pk), status=status)
    if over_limit is not None:
        raise over_limit
    return outcome


def step_complete(step: PlanStep, outcome: StepOutcome) -> catalogue.StepCompleteEvent:
    return catalogue.StepCompleteEvent(
        step=catalogue.StepResult(
            id=str(step.pk),
            key=step.key,
            status=outcome.status,
            result=outcome.result if outcome.status == PlanStep.Status.COMPLETED else outcome.error,
        )
    )


def end_step(run: Run, step: PlanStep, outcome: StepOutcome) -> None:
    """Give a step its final status and emit `step_complete`, in one transaction."""
    events.emit(
        run,
        step_complete(step, outcome),
        writes=lambda: services.step_finish(
            step=step, status=outcome.status, result=outcome.result, error=outcome.error
        ),
    )
