"""One executor agent working on one plan step, with read-only tools only."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection

from agents import events
from agents.engine import prompts
from agents.engine.conversation import CancelWatch, Conversation
from agents.exceptions import LLMError, RunCancelled, RunGone
from agents.models import Agent, Execution, PlanStep, Run
from agents.runs import services
from agents.tools import ToolContext, schemas

logger = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    status: str  # a PlanStep status: completed, failed or cancelled
    result: str = ""
    error: str = ""


def run_step(
    *, run: Run, step: PlanStep, planner: Agent, dependency_results: dict[str, str], cancel: CancelWatch
) -> StepOutcome:
    """Run one step in a new executor agent (in the calling thread) and store and emit what happens.

    Never raises: a failure of the model or of the limits fails the step, a
    cancel cancels it. Closes this thread's database connection at the end.
    """
    close_old_connections()
    try:
        return _run_step(run=run, step=step, planner=planner, dependency_results=dependency_results, cancel=cancel)
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
        events.EXECUTOR_SPAWNED,
        executor_id=str(agent.pk),
        step_id=str(step.pk),
        task={"title": step.title, "instructions": step.instructions},
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
    try:
        for _ in range(settings.AGENT_MAX_ITERATIONS):
            reply = conversation.call(tools=tools)
            if not reply.tool_calls:
                status, result = Execution.Status.COMPLETED, reply.content.strip()
                break
            for call in reply.tool_calls:
                conversation.run_tool(call)
        else:
            error = f"The executor made {settings.AGENT_MAX_ITERATIONS} model calls without finishing its step."
    except RunGone:
        raise
    except RunCancelled:
        status, error = Execution.Status.CANCELLED, "The run was cancelled."
    except LLMError as exc:
        error = exc.for_user(run_id=run.pk)
    except Exception:
        if not Run.objects.filter(pk=run.pk).exists():
            raise RunGone() from None  # a write raced the deletion of the run
        logger.exception("Executor %s failed on step %s", agent.pk, step.pk)
        error = "The executor failed unexpectedly."

    usage = conversation.usage.as_dict()
    services.execution_finish(execution=execution, status=status, result=result, error=error, usage=usage)
    events.emit(
        run,
        events.EXECUTOR_RESULT,
        executor_id=str(agent.pk),
        step_id=str(step.pk),
        status=status,
        result=result if status == Execution.Status.COMPLETED else error,
        usage=usage,
    )
    step_status = {
        Execution.Status.COMPLETED: PlanStep.Status.COMPLETED,
        Execution.Status.CANCELLED: PlanStep.Status.CANCELLED,
    }.get(status, PlanStep.Status.FAILED)
    return StepOutcome(status=step_status, result=result, error=error)
