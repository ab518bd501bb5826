"""The event catalogue: one typed class per event type of the run stream.

This module is the one definition of the event contract (docs/events.md).
``emit()`` takes an instance of one of these classes, which has checked its
fields when it was built. ``agents.events.exports`` turns the same classes
into the OpenAPI components of the stream and into the names and fields the
chat UI reads (``static/chat/js/events.js``); ``agents.events.docs`` writes the
reference of ``docs/events.md`` (``manage.py write_event_docs``). A test fails
when a checked-in file differs from what they generate.

An event's JSON is the fields every event carries (``type``, ``run_id``,
``session_id``, ``seq``, ``ts``, added by ``emit()``) and its own fields.
Required fields are always sent (``None`` as ``null``); optional ones only
when the code set them. Clients ignore types and fields they do not know.

Where the wire's name for a thing differs from the code's, these classes are
the one place that maps it (the wire names are the contract, docs/events.md):

=====================  ==========================================
wire (events)          code
=====================  ==========================================
``strategy``           the run's ``route`` (``Run.route``)
``agent_kind``         the agent's ``role`` (``Agent.role``)
``executor_id``        the executor's ``Agent`` id
``step.id`` / ``key``  the ``PlanStep`` id / its ``key`` in the plan
``usage``              ``agents.llm.usage.Usage.event()``
=====================  ==========================================
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

EventTypeName = str

# --- Values carried inside events --------------------------------------------


class _Value(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Usage(_Value):
    """Tokens, calls and dollars of some LLM calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    llm_calls: int = 0
    cost_usd: float = Field(0.0, description="US dollars of the LLM calls.")
    cost_known: bool = Field(True, description="False when some call's model had no known price (counted as 0).")


class SessionInfo(_Value):
    id: str = Field(json_schema_extra={"format": "uuid"})
    title: str
    context_type: str
    entity_id: str | None
    created_at: datetime


class PlanStepInfo(_Value):
    id: str = Field(description="The step's id (its other events name it).")
    key: str | None = Field(None, description="The step's key within the plan (the planner's name for it).")
    title: str
    instructions: str
    depends_on: list[str]
    status: str
    result: Any = Field(None, description="A kept step's result (`plan_revised`).")


class PlanInfo(_Value):
    id: str = Field(json_schema_extra={"format": "uuid"})
    objective: str
    steps: list[PlanStepInfo]
    version: int | None = Field(None, ge=1, description="1 for the first plan, 2 for its first revision, …")


class StepRef(_Value):
    id: str
    title: str
    key: str | None = Field(None, description="The step's key within the plan (the planner's name for it).")


class TaskInfo(_Value):
    title: str
    instructions: str


class ToolError(_Value):
    code: str
    message: str


class StepResult(_Value):
    id: str
    status: Literal["completed", "failed", "skipped", "cancelled"]
    result: Any = Field(description="The step's result, or why it did not complete.")
    key: str | None = Field(None, description="The step's key within the plan (the planner's name for it).")


class ApprovalRequest(_Value):
    id: str
    kind: Literal["tool", "plan"]
    tool: str | None
    arguments: Any = Field(description="The tool call's arguments (kind `tool`).")
    plan: Any = Field(description="The plan to review (kind `plan`).")
    agent_id: str | None
    expires_at: datetime | None


class ApprovalDecision(_Value):
    id: str
    decision: Literal["approved", "rejected", "expired"]
    arguments: Any = Field(description="The arguments the tool runs with (edited ones, if any).")
    reason: str
    decided_by: str | None


# --- The events ---------------------------------------------------------------


class Event(BaseModel):
    """One event's own fields; ``emit()`` adds the fields every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ClassVar[EventTypeName]
    # Only these may be stored once the run has finished (they close it, from run_finish).
    closing: ClassVar[bool] = False
    # Its batch also stores the rows the run deferred (the plan, the step, the executor it announces).
    carries_rows: ClassVar[bool] = False

    def payload(self) -> dict[str, Any]:
        """Return the event's own fields as JSON values: required ones always, optional ones when set."""
        return self.model_dump(mode="json", exclude_unset=True)


class SessionEvent(Event):
    """First event of every run: the session it belongs to."""

    type = "session"
    session: SessionInfo


class AnalysisEvent(Event):
    """The planner's route is known."""

    type = "analysis"
    strategy: Literal["simple", "tool", "complex"]
    reason: str = Field(description="Why this route.")


class PlanCreatedEvent(Event):
    """Complex route: the plan is stored."""

    type = "plan_created"
    carries_rows = True
    plan: PlanInfo


class PlanRevisedEvent(Event):
    """The planner revised the plan after a step failed or stalled (at most AGENT_MAX_REPLANS times): the new
    version, its completed steps kept with their results (not run again), its new steps pending."""

    type = "plan_revised"
    carries_rows = True
    plan: PlanInfo
    reason: str = Field(description="Which steps failed or stalled, and why.")


class StepStartEvent(Event):
    """A step begins."""

    type = "step_start"
    carries_rows = True
    step: StepRef


class ExecutorSpawnedEvent(Event):
    """An executor agent is created for a step."""

    type = "executor_spawned"
    carries_rows = True
    executor_id: str
    step_id: str
    task: TaskInfo


class TextEvent(Event):
    """A piece of the answer the user will read."""

    type = "text"
    delta: str
    agent_id: str | None = None


class ThinkingEvent(Event):
    """Reasoning or progress text of an agent; never part of the answer."""

    type = "thinking"
    delta: str
    agent_id: str
    agent_kind: Literal["planner", "executor"]


class ToolCallEvent(Event):
    """A tool is about to run."""

    type = "tool_call"
    call_id: str
    tool: str
    arguments: Any = Field(description="The arguments as the model sent them.")
    agent_id: str
    agent_kind: Literal["planner", "executor"]


class ToolResultEvent(Event):
    """A tool finished or was refused (`ok: false`, e.g. `error.code: tool_not_allowed`)."""

    type = "tool_result"
    call_id: str
    tool: str
    ok: bool
    result: Any = Field(None, description="The tool's result (when `ok`).")
    error: ToolError | None = Field(None, description="Why it failed (when not `ok`).")
    duration_ms: int
    agent_id: str


class ExecutorResultEvent(Event):
    """An executor finished."""

    type = "executor_result"
    carries_rows = True
    executor_id: str
    step_id: str
    status: Literal["completed", "failed", "cancelled"]
    result: Any = Field(description="The executor's answer, or why it failed.")
    usage: Usage
    duration_ms: int | None = Field(description="The executor's wall time.")


class StepCompleteEvent(Event):
    """A step finished."""

    type = "step_complete"
    carries_rows = True
    step: StepResult


class RetryEvent(Event):
    """A model call failed before any content and will be tried again."""

    type = "retry"
    attempt: int
    code: str
    delay_ms: int
    agent_id: str
    message: str | None = Field(None, description="What failed, for people.")


class ApprovalRequiredEvent(Event):
    """The run waits (status `waiting`) for the user's decision; nothing is held while it waits."""

    type = "approval_required"
    carries_rows = True
    approval: ApprovalRequest


class ApprovalResultEvent(Event):
    """A decision was made; an approved tool then runs exactly once, a rejected one returns `ok: false`."""

    type = "approval_result"
    approval: ApprovalDecision


class ResumedEvent(Event):
    """The run goes on in a new attempt (its worker was lost, it was drained, or an approval came); completed
    steps are not run again. With `answer_reset`, drop the answer text received so far: it is streamed again."""

    type = "resumed"
    attempt: int = Field(ge=2)
    reason: Literal["worker_lost", "drained", "approval"]
    answer_reset: bool


class BudgetWarningEvent(Event):
    """80 % of a dollar limit is used (once per run and scope)."""

    type = "budget_warning"
    scope: Literal["run", "user_daily"] = Field(description="AGENT_RUN_MAX_COST or AGENT_COST_BUDGET_DAILY.")
    used_usd: float
    limit_usd: float


class ErrorEvent(Event):
    """Something went wrong; `fatal: true` ends the run."""

    type = "error"
    closing = True
    code: str
    message: str
    fatal: bool


class DoneEvent(Event):
    """Always the last event, exactly once per run."""

    type = "done"
    closing = True
    status: Literal["completed", "failed", "cancelled", "interrupted"]
    message_id: str | None = Field(description="The stored answer, if any.", json_schema_extra={"format": "uuid"})
    usage: Usage
    duration_ms: int | None


EVENTS: dict[EventTypeName, type[Event]] = {
    cls.type: cls
    for cls in (
        SessionEvent,
        AnalysisEvent,
        PlanCreatedEvent,
        PlanRevisedEvent,
        StepStartEvent,
        ExecutorSpawnedEvent,
        TextEvent,
        ThinkingEvent,
        ToolCallEvent,
        ToolResultEvent,
        ExecutorResultEvent,
        StepCompleteEvent,
        RetryEvent,
        ApprovalRequiredEvent,
        ApprovalResultEvent,
        ResumedEvent,
        BudgetWarningEvent,
        ErrorEvent,
        DoneEvent,
    )
}


# The fields emit() adds to every event (not an event's own).
COMMON_FIELDS = frozenset({"type", "run_id", "session_id", "seq", "ts"})


def from_stored(data: dict[str, Any]) -> Event:
    """Return the typed event of a stored event's JSON (as streams send it): for other protocols' translations."""
    cls = EVENTS[data["type"]]
    return cls.model_validate({key: value for key, value in data.items() if key not in COMMON_FIELDS})
