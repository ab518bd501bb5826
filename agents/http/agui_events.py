"""Our run's events as AG-UI 1.0 events (``ag-ui-protocol``): the translation behind ``/api/ag-ui``.

Each stored event is read back into its catalogue class and becomes zero or
more AG-UI events, written as SSE frames that carry our ``id:``:

============================  ==================================================================
ours                          AG-UI 1.0
============================  ==================================================================
``session``                   ``RUN_STARTED`` (``threadId``: the client's thread, ``runId``: ours)
``step_start``                ``STEP_STARTED`` (``stepName``: the step's title)
``step_complete``             ``STEP_FINISHED``
``executor_spawned``          ``SUBAGENT_STARTED`` (``subagentRunId``: the executor's id)
``executor_result``           ``SUBAGENT_FINISHED`` (completed) or ``SUBAGENT_ERROR`` (failed, cancelled)
``text``                      ``TEXT_MESSAGE_START`` / ``CONTENT`` / ``END``, one message per agent turn
``thinking``                  ``REASONING_START`` + ``REASONING_MESSAGE_START`` / ``CONTENT`` / ``END``
                              + ``REASONING_END``, attributed to the executor (``subagentRunId``)
``tool_call``                 ``TOOL_CALL_START`` / ``ARGS`` (the arguments as JSON) / ``END``
``tool_result``               ``TOOL_CALL_RESULT`` (the result, or ``{"error": …}``, as JSON)
``approval_required``         ``RUN_FINISHED`` ``outcome: interrupt`` with one interrupt (the stream ends;
                              ``resume[]`` answers it and streams the rest of the run)
``done``                      ``RUN_FINISHED`` ``outcome: success`` (completed) or ``cancelled``
                              (cancelled, interrupted), with ``usage``; ``RUN_ERROR`` (failed)
anything else                 ``CUSTOM`` (``name``: our type, ``value``: our event)
============================  ==================================================================

AG-UI requires every message, reasoning span, step and sub-agent to be
closed before ``RUN_FINISHED``: the translator tracks what is open and
closes it first. A text or reasoning message ends when its agent does
something else (a tool call, the end of its step or executor).

Frames, their ids and resuming after ``Last-Event-ID``: ``agui_stream``.
"""

from __future__ import annotations

import json
from typing import Any

from ag_ui.core import (
    PROTOCOL_VERSION,
    BaseEvent,
    CustomEvent,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    SubagentErrorEvent,
    SubagentFinishedEvent,
    SubagentFinishedSuccessOutcome,
    SubagentStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)

from agents.events import catalogue

INTERRUPT_REASONS = {"tool": "tool_approval", "plan": "plan_review"}


def usage_list(usage: catalogue.Usage) -> list[TokenUsage]:
    return [
        TokenUsage(
            input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens, total_tokens=usage.total_tokens
        )
    ]


def interrupt_of(approval: catalogue.ApprovalRequest) -> Interrupt:
    """Return the AG-UI interrupt of one of our approvals (its id is the approval's id)."""
    if approval.kind == "tool":
        message = f"Run the write tool {approval.tool} with these arguments?"
    else:
        message = "Approve this plan before any executor starts?"
    extra = approval.model_extra or {}
    return Interrupt(
        id=approval.id,
        reason=INTERRUPT_REASONS.get(approval.kind, approval.kind),
        message=message,
        tool_call_id=extra.get("call_id"),
        expires_at=approval.expires_at.isoformat().replace("+00:00", "Z") if approval.expires_at else None,
        metadata={"approval": approval.model_dump(mode="json")},
        response_schema={
            "type": "object",
            "properties": {
                "decision": {"type": "string", "enum": ["approve", "reject"]},
                "arguments": {"type": "object"},
                "reason": {"type": "string"},
            },
        },
    )


class AgUiTranslator:
    """Translate one run's stored events, in order, into AG-UI events; tracks what is open."""

    def __init__(self, *, run_id: str, thread_id: str | None = None):
        self.run_id = run_id
        self.thread_id = thread_id
        self.texts: dict[str, str] = {}  # agent id -> open text message id
        self.reasonings: dict[str, str] = {}  # agent id -> open reasoning message id
        self.steps: dict[str, str] = {}  # step id -> open step name
        self.subagents: dict[str, str] = {}  # executor id -> name, while it works
        self.fatal: catalogue.ErrorEvent | None = None
        self.running = False  # a RUN_STARTED was sent and no RUN_FINISHED / RUN_ERROR yet

    # --- helpers ---------------------------------------------------------

    def _sub(self, agent_id: str | None) -> str | None:
        return agent_id if agent_id in self.subagents else None

    def _close_text(self, agent_id: str) -> list[BaseEvent]:
        message_id = self.texts.pop(agent_id, None)
        if message_id is None:
            return []
        return [TextMessageEndEvent(message_id=message_id, subagent_run_id=self._sub(agent_id))]

    def _close_reasoning(self, agent_id: str) -> list[BaseEvent]:
        message_id = self.reasonings.pop(agent_id, None)
        if message_id is None:
            return []
        sub = self._sub(agent_id)
        return [
            ReasoningMessageEndEvent(message_id=message_id, subagent_run_id=sub),
            ReasoningEndEvent(message_id=message_id, subagent_run_id=sub),
        ]

    def _close_agent(self, agent_id: str) -> list[BaseEvent]:
        return self._close_text(agent_id) + self._close_reasoning(agent_id)

    def close_all(self) -> list[BaseEvent]:
        """Close every open message, sub-agent and step (AG-UI wants none open at RUN_FINISHED)."""
        out: list[BaseEvent] = []
        for agent_id in list({**self.texts, **self.reasonings}):
            out += self._close_agent(agent_id)
        for executor_id in list(self.subagents):
            out.append(SubagentErrorEvent(subagent_run_id=executor_id, message="The run stopped.", code="stopped"))
        self.subagents.clear()
        out += [StepFinishedEvent(step_name=name) for name in self.steps.values()]
        self.steps.clear()
        return out

    def run_started(self, session_id: str) -> RunStartedEvent:
        self.running = True
        return RunStartedEvent(
            thread_id=self.thread_id or session_id, run_id=self.run_id, protocol_version=PROTOCOL_VERSION
        )

    def _step_name(self, step: catalogue.StepRef) -> str:
        name = step.title or step.key or step.id
        if name in self.steps.values():
            name = f"{name} ({step.key or step.id})"
        return name

    # --- the translation -------------------------------------------------

    def translate(self, data: dict[str, Any]) -> list[BaseEvent]:
        """Return the AG-UI events of one stored event (its JSON as a dict)."""
        event = catalogue.from_stored(data)
        seq, session_id = data["seq"], data["session_id"]
        out: list[BaseEvent] = []
        if not self.running and not isinstance(event, catalogue.SessionEvent):
            # The events after an interrupt (all was closed): a new AG-UI run of the same run.
            out.append(self.run_started(session_id))
        match event:
            case catalogue.SessionEvent():
                out.append(self.run_started(session_id))
                out[-1].raw_event = data
            case catalogue.StepStartEvent(step=step):
                name = self._step_name(step)
                self.steps[step.id] = name
                out.append(StepStartedEvent(step_name=name, raw_event=data))
            case catalogue.StepCompleteEvent(step=step):
                name = self.steps.pop(step.id, None)
                if name is not None:
                    out.append(StepFinishedEvent(step_name=name, raw_event=data))
            case catalogue.ExecutorSpawnedEvent(executor_id=executor_id, task=task):
                self.subagents[executor_id] = "executor"
                out.append(
                    SubagentStartedEvent(
                        subagent_run_id=executor_id, name="executor", description=task.title, raw_event=data
                    )
                )
            case catalogue.ExecutorResultEvent(executor_id=executor_id, status=status, result=result):
                out += self._close_agent(executor_id)
                if self.subagents.pop(executor_id, None) is not None:
                    if status == "completed":
                        out.append(
                            SubagentFinishedEvent(
                                subagent_run_id=executor_id,
                                result=result,
                                outcome=SubagentFinishedSuccessOutcome(),
                                raw_event=data,
                            )
                        )
                    else:
                        message = result if isinstance(result, str) and result else f"The executor {status}."
                        out.append(
                            SubagentErrorEvent(
                                subagent_run_id=executor_id, message=message, code=status, raw_event=data
                            )
                        )
            case catalogue.TextEvent(delta=delta, agent_id=agent_id):
                agent_id = agent_id or ""
                out += self._close_reasoning(agent_id)
                message_id = self.texts.get(agent_id)
                if message_id is None:
                    message_id = self.texts[agent_id] = f"{self.run_id}:{seq}"
                    out.append(
                        TextMessageStartEvent(
                            message_id=message_id, role="assistant", subagent_run_id=self._sub(agent_id)
                        )
                    )
                out.append(
                    TextMessageContentEvent(message_id=message_id, delta=delta, subagent_run_id=self._sub(agent_id))
                )
            case catalogue.ThinkingEvent(delta=delta, agent_id=agent_id):
                out += self._close_text(agent_id)
                sub = self._sub(agent_id)
                message_id = self.reasonings.get(agent_id)
                if message_id is None:
                    message_id = self.reasonings[agent_id] = f"{self.run_id}:{seq}"
                    out += [
                        ReasoningStartEvent(message_id=message_id, subagent_run_id=sub),
                        ReasoningMessageStartEvent(message_id=message_id, subagent_run_id=sub),
                    ]
                out.append(ReasoningMessageContentEvent(message_id=message_id, delta=delta, subagent_run_id=sub))
            case catalogue.ToolCallEvent(call_id=call_id, tool=tool, arguments=arguments, agent_id=agent_id):
                parent = self.texts.get(agent_id)
                out += self._close_agent(agent_id)
                sub = self._sub(agent_id)
                out += [
                    ToolCallStartEvent(
                        tool_call_id=call_id,
                        tool_call_name=tool,
                        parent_message_id=parent,
                        subagent_run_id=sub,
                        raw_event=data,
                    ),
                    ToolCallArgsEvent(tool_call_id=call_id, delta=json.dumps(arguments), subagent_run_id=sub),
                    ToolCallEndEvent(tool_call_id=call_id, subagent_run_id=sub),
                ]
            case catalogue.ToolResultEvent(call_id=call_id, ok=ok, agent_id=agent_id):
                content = event.result if ok else {"error": event.error.model_dump() if event.error else None}
                out.append(
                    ToolCallResultEvent(
                        message_id=f"{self.run_id}:{seq}",
                        tool_call_id=call_id,
                        content=content if isinstance(content, str) else json.dumps(content, default=str),
                        role="tool",
                        subagent_run_id=self._sub(agent_id),
                        raw_event=data,
                    )
                )
            case catalogue.ApprovalRequiredEvent(approval=approval):
                out += self.close_all()
                out.append(
                    RunFinishedEvent(
                        thread_id=self.thread_id or session_id,
                        run_id=self.run_id,
                        outcome=RunFinishedInterruptOutcome(interrupts=[interrupt_of(approval)]),
                        raw_event=data,
                    )
                )
                self.running = False
            case catalogue.ErrorEvent(fatal=True):
                self.fatal = event
                out.append(CustomEvent(name=event.type, value=data))
            case catalogue.DoneEvent(status=status, usage=usage):
                out += self.close_all()
                if status == "failed":
                    fatal = self.fatal
                    out.append(
                        RunErrorEvent(
                            message=fatal.message if fatal else "The run failed.",
                            code=fatal.code if fatal else "failed",
                            usage=usage_list(usage),
                            raw_event=data,
                        )
                    )
                else:
                    outcome = RunFinishedSuccessOutcome() if status == "completed" else RunFinishedCancelledOutcome()
                    out.append(
                        RunFinishedEvent(
                            thread_id=self.thread_id or session_id,
                            run_id=self.run_id,
                            outcome=outcome,
                            result={"message_id": event.message_id, "status": status},
                            usage=usage_list(usage),
                            raw_event=data,
                        )
                    )
                self.running = False
            case catalogue.ResumedEvent(answer_reset=True):
                # The answer streams again: end the message holding the void text (our event says to drop it).
                for agent_id in list(self.texts):
                    out += self._close_text(agent_id)
                out.append(CustomEvent(name=event.type, value=data))
            case _:
                out.append(CustomEvent(name=event.type, value=data))
        return out
