"""An agent's side of a run: its stored LLM conversation, its calls, its tool dispatch.

Planner and executors share this plumbing so that every LLM call is stored
the same way (an ``AgentMessage`` with tokens and latency, usage added to the
run), every tool call is emitted and dispatched the same way, and the cancel
flag is checked the same way. A call that failed or was cancelled after the
model streamed something is stored and charged too (``finish_reason``
"error" or "cancelled"): the provider bills it, so the run's usage and the
user's budget count it.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from agents import events
from agents.engine.cancel import CancelWatch
from agents.engine.text import ThinkingStream
from agents.events import catalogue
from agents.exceptions import LLMError, RunGone, RunStopped
from agents.llm import gateway as llm
from agents.llm import prices
from agents.llm.usage import Usage
from agents.models import Agent, AgentMessage, Run
from agents.runs import costs, selectors, services
from agents.runs.connections import give_back_connection
from agents.storable import load_json
from agents.telemetry import metrics, tracing
from agents.tools import ToolContext, ToolOutcome, dispatch, is_write_tool

logger = logging.getLogger(__name__)


@dataclass
class Conversation:
    """One agent's LLM conversation: kept in memory for the next call and stored as it grows."""

    run: Run
    agent: Agent
    cancel: CancelWatch
    tool_context: ToolContext
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    # One run's agents store their rows from several threads; the lock keeps
    # this conversation's rows in order when a callback fires from another one.
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The model's reasoning stream, and whatever the caller routes here, as `thinking` events.
    thinking: ThinkingStream = field(init=False)

    def __post_init__(self) -> None:
        self.thinking = ThinkingStream(self.run, self.agent)

    def _names(self) -> dict[str, str]:
        """Return the run, agent and role that this conversation's spans name."""
        return {"run_id": str(self.run.pk), "agent_id": str(self.agent.pk), "role": self.agent.role}

    def load(self, rows: list[AgentMessage]) -> None:
        """Take up the conversation an earlier attempt stored (resume): the next call continues it."""
        for row in rows:
            if row.role == AgentMessage.Role.TOOL:
                self.messages.append({"role": "tool", "tool_call_id": row.tool_call_id, "content": row.content})
            elif row.role == AgentMessage.Role.ASSISTANT:
                self.messages.append(_assistant_message(row.content, row.tool_calls or []))
            else:
                self.messages.append({"role": row.role, "content": row.content})

    def unanswered_calls(self) -> list[llm.ToolCall]:
        """Return the tool calls of the last model reply that have no stored result yet (resume)."""
        answered = set()
        for message in reversed(self.messages):
            if message["role"] == "tool":
                answered.add(message["tool_call_id"])
            elif message["role"] == "assistant":
                return [
                    llm.ToolCall(id=call["id"], name=call["function"]["name"], arguments=call["function"]["arguments"])
                    for call in message.get("tool_calls") or ()
                    if call["id"] not in answered
                ]
            else:
                return []
        return []

    def add(self, role: str, content: str) -> None:
        """Append a system or user message and store it."""
        self.messages.append({"role": role, "content": content})
        services.agent_message_create(agent=self.agent, run=self.run, role=role, content=content)

    def call(self, *, tools: list[dict] | None, on_text: Callable[[str], None] | None = None) -> llm.LLMResult:
        """Make one LLM call with the conversation so far; store it and count its usage."""
        self.cancel.check()

        def on_retry(attempt: int, error: LLMError, delay: float) -> None:
            logger.info(
                "Run %s, agent %s: model call failed (%s), retry %d in %.2f s: %s",
                self.run.pk,
                self.agent.pk,
                error.code,
                attempt,
                delay,
                error.detail,
            )
            events.emit(
                self.run,
                catalogue.RetryEvent(
                    agent_id=str(self.agent.pk),
                    attempt=attempt,
                    code=error.code,
                    message=error.for_user(run_id=self.run.pk),
                    delay_ms=int(delay * 1000),
                ),
            )

        # The run's token and dollar limits, checked (and the call's estimate reserved) before the call is made.
        estimate = llm.estimate_usage(messages=self.messages, tools=tools or None, content="", tool_calls=[])
        hold = costs.call_reserve(run=self.run, model=self.agent.model, prompt_tokens=estimate.prompt_tokens)
        tracing.open_agent(**self._names(), model=self.agent.model)
        give_back_connection()  # not held while the model thinks
        started = time.monotonic()
        if on_text is not None:
            answer_text = on_text

            def on_text(delta: str) -> None:
                self.thinking.flush()  # the reasoning before this text comes first in the stream
                answer_text(delta)

        try:
            with events.streaming(self.run):
                result = llm.chat_stream(
                    model=self.agent.model,
                    messages=self.messages,
                    tools=tools or None,
                    on_text=on_text,
                    on_retry=on_retry,
                    should_cancel=self.cancel,
                    on_reasoning=self.thinking,
                )
        except (LLMError, RunStopped) as exc:
            if isinstance(exc, LLMError) and not self.cancel.gone:
                self.thinking.flush()  # what the model thought before it failed is shown, as streamed
            if isinstance(exc, LLMError):
                # The server's words (secrets masked) are for operators; users get exc.message and the run id.
                logger.warning(
                    "Run %s, agent %s: model call failed (%s): %s", self.run.pk, self.agent.pk, exc.code, exc.detail
                )
            outcome = exc.code if isinstance(exc, LLMError) else "cancelled"
            if exc.partial is not None and not self.cancel.gone:
                self._store_unfinished_call(exc.partial, hold, outcome=outcome)
            else:
                costs.call_release(hold)
                self._observe_failed_call(outcome, started)
            raise
        except BaseException:
            costs.call_release(hold)
            raise
        tool_calls = self._store_call(result, hold)
        self.messages.append(_assistant_message(result.content, tool_calls))
        self.thinking.flush()
        return result

    def _store_call(self, result: llm.LLMResult, hold: costs.CallHold, *, outcome: str = "ok") -> list[dict[str, str]]:
        """Store one LLM call as an assistant message, with its cost, and add its usage to the agent and the run."""
        tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in result.tool_calls]
        usage = result.usage
        cost = prices.price_call(
            models=(result.model, self.agent.model),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
        )
        try:
            services.agent_message_create(
                agent=self.agent,
                run=self.run,
                role=AgentMessage.Role.ASSISTANT,
                content=result.content or "",
                tool_calls=tool_calls or None,
                model=result.model or self.agent.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cost_usd=cost.usd,
                cost_known=cost.known,
                latency_ms=result.latency_ms,
                finish_reason=result.finish_reason or "",
            )
            call = replace(usage, llm_calls=1, cost_usd=cost.usd, cost_known=cost.known)
            self.usage += call
            services.run_add_usage(run=self.run, usage=call)
        finally:
            # The provider charged the call whether or not it could be stored.
            costs.call_settle(hold, tokens=usage.prompt_tokens + usage.completion_tokens, cost_usd=cost.usd)
            self._observe_call(result, cost, outcome=outcome)
        return tool_calls

    def _observe_call(self, result: llm.LLMResult, cost: prices.Cost, *, outcome: str) -> None:
        """Count the call in the metrics and write its span."""
        usage = result.usage
        metrics.llm_call(
            model=self.agent.model,
            role=self.agent.role,
            outcome=outcome,
            latency_ms=result.latency_ms,
            first_token_ms=result.first_token_ms,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost_usd=float(cost.usd),
            cost_known=cost.known,
        )
        tracing.record_chat(
            **self._names(),
            request_model=self.agent.model,
            response_model=result.model,
            latency_ms=result.latency_ms,
            first_token_ms=result.first_token_ms,
            finish_reason=result.finish_reason,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost_usd=float(cost.usd),
            error="" if outcome == "ok" else outcome,
            messages=self.messages,
            output=_assistant_message(
                result.content, [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in result.tool_calls]
            ),
        )

    def _observe_failed_call(self, outcome: str, started: float) -> None:
        """Count and trace a call that failed or was cancelled before the model sent anything."""
        latency_ms = int((time.monotonic() - started) * 1000)
        empty = llm.LLMResult(
            content="", tool_calls=[], usage=llm.Usage(), finish_reason=None, latency_ms=latency_ms, model=""
        )
        self._observe_call(empty, prices.Cost(usd=prices.ZERO, known=True), outcome=outcome)

    def _store_unfinished_call(self, partial: llm.LLMResult, hold: costs.CallHold, *, outcome: str) -> None:
        """Store and charge a call that failed or was cancelled after it streamed something."""
        try:
            self._store_call(partial, hold, outcome=outcome)
        except Exception:
            if selectors.run_deleted(run_id=self.run.pk):
                raise RunGone() from None  # deleted with its session while the call ran
            # The failure being reported matters more than this row.
            logger.exception("Run %s: the unfinished call of agent %s could not be stored", self.run.pk, self.agent.pk)

    def add_tool_result(self, *, call_id: str, name: str, content: Any) -> None:
        """Answer a tool call in the conversation and store the answer."""
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        services.agent_message_create(
            agent=self.agent,
            run=self.run,
            role=AgentMessage.Role.TOOL,
            content=text,
            tool_call_id=call_id,
            tool_name=name,
        )

    def run_tool(self, call: llm.ToolCall) -> ToolOutcome:
        """Emit, dispatch (the dispatcher enforces the agent's permission) and answer one tool call."""
        self.cancel.check()
        self.announce_call(call)
        give_back_connection()  # a tool may wait on the network
        outcome = self.dispatch_call(call)
        self.answer_call(call, outcome)
        return outcome

    def announce_call(self, call: llm.ToolCall) -> None:
        """Emit ``tool_call``: the tool is about to run."""
        events.emit(
            self.run,
            catalogue.ToolCallEvent(
                call_id=call.id,
                tool=call.name,
                arguments=parse_arguments(call.arguments),
                agent_id=str(self.agent.pk),
                agent_kind=self.agent.role,
            ),
            # A write tool's call is on record (its model call stored) before the tool acts.
            with_rows=is_write_tool(call.name),
        )

    def dispatch_call(self, call: llm.ToolCall) -> ToolOutcome:
        """Run one tool call, traced and counted."""
        with tracing.tool_span(
            **self._names(),
            model=self.agent.model,
            tool=call.name,
            call_id=call.id,
            arguments=call.arguments,
        ) as traced:
            outcome = dispatch(self.tool_context, call.name, call.arguments)
            error_code = "" if outcome.ok else str((outcome.error or {}).get("code") or "error")
            traced(ok=outcome.ok, error_code=error_code, result=outcome.result)
        metrics.tool_call(
            tool="unknown" if error_code == "unknown_tool" else call.name,
            outcome="ok" if outcome.ok else error_code,
            duration_ms=outcome.duration_ms,
        )
        return outcome

    def answer_call(self, call: llm.ToolCall, outcome: ToolOutcome) -> None:
        """Emit ``tool_result`` and give the model the outcome of a call (ran, refused or rejected).

        The result's row is stored with its event (and the conversation's rows before it): a resumed
        attempt finds the call answered and never makes it again.
        """
        self.add_tool_result(
            call_id=call.id, name=call.name, content=outcome.result if outcome.ok else {"error": outcome.error}
        )
        events.emit(self.run, tool_result_event(call, outcome, agent_id=str(self.agent.pk)), with_rows=True)


def _assistant_message(content: str | None, tool_calls: list[dict[str, str]]) -> dict[str, Any]:
    """Return a model reply as the Chat Completions message the next call sends back."""
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if tool_calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in tool_calls
        ]
    return message


def parse_arguments(arguments: str) -> Any:
    """Return a tool call's arguments as JSON when they parse and can be stored, else the raw text (model output)."""
    try:
        return load_json(arguments) if arguments else {}
    except (TypeError, ValueError, RecursionError):
        return arguments


def tool_result_event(call: llm.ToolCall, outcome: ToolOutcome, *, agent_id: str) -> catalogue.ToolResultEvent:
    """Return the `tool_result` of a call's outcome: its result when it ran, else its error."""
    answer: dict[str, Any] = {"result": outcome.result} if outcome.ok else {"error": outcome.error}
    return catalogue.ToolResultEvent(
        call_id=call.id, tool=call.name, ok=outcome.ok, duration_ms=outcome.duration_ms, agent_id=agent_id, **answer
    )
