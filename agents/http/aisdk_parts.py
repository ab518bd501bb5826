"""Our run's events as the Vercel AI SDK's UI message stream (``x-vercel-ai-ui-message-stream: v1``).

Each stored event, read back into its catalogue class, becomes zero or more
``UIMessageChunk`` parts (the ``ai`` package's type), each sent as
``data: <json>`` and the stream closed by ``data: [DONE]``:

=====================  =====================================================================
ours                   AI SDK parts
=====================  =====================================================================
``session``            ``start`` (``messageId``: the run's id; ``messageMetadata``: run and session ids)
``analysis``           ``data-route`` (``id: "route"``)
``plan_created``,      ``data-plan`` (``id: "plan"``: a revision replaces it)
``plan_revised``
``step_start``         ``start-step`` (when no other step is open: parallel steps share one) and
                       ``data-step`` (``id``: the step's id)
``step_complete``      ``data-step`` (same id, now with its status and result), then ``finish-step``
                       when it was the last open step
``executor_spawned``,  ``data-executor`` (``id``: the executor's id; its result replaces it)
``executor_result``
``text``               ``text-start`` / ``text-delta`` / ``text-end``, one part per agent turn
``thinking``           ``reasoning-start`` / ``reasoning-delta`` / ``reasoning-end``
``tool_call``          ``tool-input-available`` (``dynamic``, ``providerExecuted``: the server runs it)
``tool_result``        ``tool-output-available``, ``tool-output-error``, or ``tool-output-denied``
                       (a rejected approval)
``approval_required``  a tool: ``tool-input-available`` + ``tool-approval-request``; a plan:
                       ``data-approval``; then ``finish`` (``tool-calls``): the stream ends
                       while the run waits for the decision
``done``               ``finish`` (completed), ``error`` + ``finish`` (failed), ``abort``
                       (cancelled, interrupted)
anything else          ``data-<type>`` with the event
=====================  =====================================================================
"""

from __future__ import annotations

import json
from typing import Any

from agents.events import catalogue

HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}
DONE_FRAME = b"data: [DONE]\n\n"


def _without_common(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in ("run_id", "session_id", "seq", "ts")}


class AiSdkTranslator:
    """Translate one run's stored events, in order, into UI message stream parts; tracks what is open."""

    def __init__(self, *, run_id: str):
        self.run_id = run_id
        self.texts: dict[str, str] = {}  # agent id -> open text part id
        self.reasonings: dict[str, str] = {}  # agent id -> open reasoning part id
        self.steps: set[str] = set()  # open steps
        self.executors: dict[str, dict[str, Any]] = {}  # executor id -> its data part
        self.calls: set[str] = set()  # tool call ids the client has
        self.fatal: catalogue.ErrorEvent | None = None

    def _close_agent(self, agent_id: str) -> list[dict[str, Any]]:
        out = []
        if (part := self.texts.pop(agent_id, None)) is not None:
            out.append({"type": "text-end", "id": part})
        if (part := self.reasonings.pop(agent_id, None)) is not None:
            out.append({"type": "reasoning-end", "id": part})
        return out

    def close_parts(self) -> list[dict[str, Any]]:
        """End every open text and reasoning part (the AI SDK forgets them at ``finish-step``)."""
        out: list[dict[str, Any]] = []
        for agent_id in list({**self.texts, **self.reasonings}):
            out += self._close_agent(agent_id)
        return out

    def _end(self) -> list[dict[str, Any]]:
        out = self.close_parts()
        if self.steps:
            self.steps.clear()
            out.append({"type": "finish-step"})
        return out

    def _tool_input(self, *, call_id: str, tool: str, arguments: Any, agent_id: str | None, agent_kind: str | None):
        self.calls.add(call_id)
        part = {
            "type": "tool-input-available",
            "toolCallId": call_id,
            "toolName": tool,
            "input": arguments,
            "dynamic": True,
            "providerExecuted": True,
        }
        if agent_id:
            part["toolMetadata"] = {"agentId": agent_id, "agentKind": agent_kind}
        return part

    def metadata(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"runId": self.run_id, "sessionId": data["session_id"]}

    def translate(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """Return the parts of one stored event (its JSON as a dict), and whether the stream ends with them."""
        event = catalogue.from_stored(data)
        seq = data["seq"]
        own = _without_common(data)
        match event:
            case catalogue.SessionEvent():
                return [{"type": "start", "messageId": self.run_id, "messageMetadata": self.metadata(data)}], False
            case catalogue.AnalysisEvent(strategy=strategy, reason=reason):
                return [{"type": "data-route", "id": "route", "data": {"strategy": strategy, "reason": reason}}], False
            case catalogue.PlanCreatedEvent() | catalogue.PlanRevisedEvent():
                plan = {**event.plan.model_dump(mode="json"), "reason": getattr(event, "reason", None)}
                return [{"type": "data-plan", "id": "plan", "data": plan}], False
            case catalogue.StepStartEvent(step=step):
                out = [] if self.steps else [{"type": "start-step"}]
                self.steps.add(step.id)
                step_data = {**step.model_dump(mode="json"), "status": "running"}
                return [*out, {"type": "data-step", "id": step.id, "data": step_data}], False
            case catalogue.StepCompleteEvent(step=step):
                out = [{"type": "data-step", "id": step.id, "data": step.model_dump(mode="json")}]
                if step.id in self.steps:
                    self.steps.discard(step.id)
                    if not self.steps:
                        out += [*self.close_parts(), {"type": "finish-step"}]
                return out, False
            case catalogue.ExecutorSpawnedEvent(executor_id=executor_id):
                part = {"type": "data-executor", "id": executor_id, "data": {**own, "status": "running"}}
                self.executors[executor_id] = part
                return [part], False
            case catalogue.ExecutorResultEvent(executor_id=executor_id):
                spawned = self.executors.pop(executor_id, {"data": {}})["data"]
                part = {"type": "data-executor", "id": executor_id, "data": {**spawned, **own}}
                return [*self._close_agent(executor_id), part], False
            case catalogue.TextEvent(delta=delta, agent_id=agent_id):
                agent_id = agent_id or ""
                out = []
                if (part := self.reasonings.pop(agent_id, None)) is not None:
                    out.append({"type": "reasoning-end", "id": part})
                if (part := self.texts.get(agent_id)) is None:
                    part = self.texts[agent_id] = f"text-{seq}"
                    out.append({"type": "text-start", "id": part})
                return [*out, {"type": "text-delta", "id": part, "delta": delta}], False
            case catalogue.ThinkingEvent(delta=delta, agent_id=agent_id, agent_kind=kind):
                out = []
                if (part := self.texts.pop(agent_id, None)) is not None:
                    out.append({"type": "text-end", "id": part})
                if (part := self.reasonings.get(agent_id)) is None:
                    part = self.reasonings[agent_id] = f"reasoning-{seq}"
                    metadata = {"agents": {"agentId": agent_id, "agentKind": kind}}
                    out.append({"type": "reasoning-start", "id": part, "providerMetadata": metadata})
                return [*out, {"type": "reasoning-delta", "id": part, "delta": delta}], False
            case catalogue.ToolCallEvent(agent_id=agent_id):
                part = self._tool_input(
                    call_id=event.call_id,
                    tool=event.tool,
                    arguments=event.arguments,
                    agent_id=agent_id,
                    agent_kind=event.agent_kind,
                )
                return [*self._close_agent(agent_id), part], False
            case catalogue.ToolResultEvent(call_id=call_id, ok=ok, error=error):
                out = []
                if call_id not in self.calls:
                    out.append(
                        self._tool_input(call_id=call_id, tool=event.tool, arguments={}, agent_id=None, agent_kind=None)
                    )
                common = {"toolCallId": call_id, "dynamic": True, "providerExecuted": True}
                if ok:
                    out.append({"type": "tool-output-available", **common, "output": event.result})
                elif error is not None and error.code == "rejected":
                    out.append({"type": "tool-output-denied", "toolCallId": call_id})
                else:
                    text = error.message if error is not None else "The tool failed."
                    out.append({"type": "tool-output-error", **common, "errorText": text})
                return out, False
            case catalogue.ApprovalRequiredEvent(approval=approval):
                out = self._end()
                if approval.kind == "tool":
                    call_id = (approval.model_extra or {}).get("call_id") or approval.id
                    if call_id not in self.calls:
                        out.append(
                            self._tool_input(
                                call_id=call_id,
                                tool=approval.tool or "",
                                arguments=approval.arguments,
                                agent_id=approval.agent_id,
                                agent_kind="planner",
                            )
                        )
                    out.append({"type": "tool-approval-request", "approvalId": approval.id, "toolCallId": call_id})
                else:
                    out.append({"type": "data-approval", "id": approval.id, "data": approval.model_dump(mode="json")})
                finish = {"type": "finish", "finishReason": "tool-calls", "messageMetadata": self.metadata(data)}
                return [*out, finish], True
            case catalogue.ErrorEvent(fatal=True):
                self.fatal = event
                return [{"type": "data-error", "data": own}], False
            case catalogue.DoneEvent(status=status):
                out = self._end()
                metadata = {**self.metadata(data), **own}
                if status == "completed":
                    return [*out, {"type": "finish", "finishReason": "stop", "messageMetadata": metadata}], True
                if status == "failed":
                    message = self.fatal.message if self.fatal else "The run failed."
                    error = {"type": "error", "errorText": message}
                    return [*out, error, {"type": "finish", "finishReason": "error", "messageMetadata": metadata}], True
                return [*out, {"type": "abort", "reason": status}], True
            case _:
                return [{"type": f"data-{event.type}", "data": own}], False


def frame(part: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(part, separators=(',', ':'), default=str)}\n\n".encode()


class AiSdkEncoder:
    """Encode batches of a run's stored frames as UI message stream parts.

    ``after_seq``: the events up to it are translated but not sent (a stream
    that continues after an approval); such a stream starts with ``start``.
    """

    def __init__(self, *, run_id: str, after_seq: int = 0):
        self.translator = AiSdkTranslator(run_id=run_id)
        self.after_seq = after_seq
        self.started = after_seq == 0

    def __call__(self, batch: list[tuple[int, str, str]]) -> tuple[bytes, int, bool]:
        frames: list[bytes] = []
        last_seq, over = 0, False
        for seq, _type, text in batch:
            last_seq = seq
            data = json.loads(text)
            parts, ends = self.translator.translate(data)
            if seq <= self.after_seq:
                continue
            if not self.started:
                self.started = True
                start = {"type": "start", "messageId": self.translator.run_id}
                frames.append(frame({**start, "messageMetadata": self.translator.metadata(data)}))
            frames += [frame(part) for part in parts]
            if ends:
                over = True
                break
        return b"".join(frames), last_seq, over
