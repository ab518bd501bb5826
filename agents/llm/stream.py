"""One streamed attempt at a call: chunks assembled into text, reasoning, tool calls and usage.

Text deltas go to ``on_text`` as they arrive, streamed tool calls are
assembled by index, usage comes from the model's own usage chunk. A stream
that breaks raises ``LLMError``, retryable only while nothing reached the
caller; what it gathered until then is kept (``partial_result``) so the
caller can store and charge it.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import openai

from agents.exceptions import LLMError, RunCancelled
from agents.llm.errors import map_request_error
from agents.llm.results import LLMResult, ToolCall, Usage
from agents.llm.tokens import estimate_usage
from agents.storable import storable


@dataclass
class Attempt:
    """What one streamed attempt has gathered so far."""

    model: str
    parts: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, dict] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    delivered: bool = False  # text or a tool-call delta reached the caller
    first_token_at: float | None = None  # time.monotonic() of the first delivered delta

    def tool_calls(self) -> list[ToolCall]:
        """Return the tool calls assembled so far, in index order (an id made up where the server sent none)."""
        return [
            ToolCall(
                id=slot["id"] or f"call_{uuid.uuid4().hex[:24]}", name=slot["name"], arguments="".join(slot["args"])
            )
            for _, slot in sorted(self.calls.items())
        ]

    def first_token_ms(self, started: float) -> int | None:
        """Return the milliseconds from ``started`` to the first delivered delta (None before one)."""
        return None if self.first_token_at is None else int((self.first_token_at - started) * 1000)

    def result(self, started: float) -> LLMResult:
        """Return the finished attempt as the call's result."""
        return LLMResult(
            content="".join(self.parts),
            tool_calls=self.tool_calls(),
            usage=self.usage,
            finish_reason=self.finish_reason,
            latency_ms=int((time.monotonic() - started) * 1000),
            model=self.model,
            first_token_ms=self.first_token_ms(started),
        )


def check_cancel(should_cancel: Callable[[], bool] | None) -> None:
    """Raise ``RunCancelled`` when the caller says the call must stop."""
    if should_cancel is not None and should_cancel():
        raise RunCancelled()


def _broken(attempt: Attempt, detail: str, *, code: str = "stream_broken") -> LLMError:
    # Before any output a broken stream is as good as a failed request; after
    # it, a retry would show the user the beginning twice.
    return LLMError(code=code, detail=detail, retryable=not attempt.delivered)


def _reasoning(delta) -> str:
    """Return a delta's reasoning text: ``reasoning_content`` (DeepSeek, vLLM) or ``reasoning`` (OpenRouter, Ollama)."""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return storable(value)
    return ""


def _apply_chunk(
    attempt: Attempt,
    chunk,
    on_text: Callable[[str], None] | None,
    on_reasoning: Callable[[str], None] | None = None,
) -> None:
    if chunk.model:
        attempt.model = chunk.model
    if chunk.usage is not None:
        prompt = chunk.usage.prompt_tokens or 0
        completion = chunk.usage.completion_tokens or 0
        details = chunk.usage.prompt_tokens_details
        cached = (details.cached_tokens or 0) if details is not None else 0
        attempt.usage = Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)
    for choice in chunk.choices or ():
        if choice.index != 0:  # we never ask for n > 1
            continue
        delta = choice.delta
        if delta is not None:
            text = storable(delta.content or delta.refusal)
            reasoning = _reasoning(delta)
            if (text or reasoning or delta.tool_calls) and attempt.first_token_at is None:
                attempt.first_token_at = time.monotonic()
            if reasoning:
                # Shown to the user as it arrives (and billed): the call is not retried after it.
                attempt.reasoning.append(reasoning)
                attempt.delivered = True
                if on_reasoning is not None:
                    on_reasoning(reasoning)
            if text:
                attempt.parts.append(text)
                attempt.delivered = True
                if on_text is not None:
                    on_text(text)
            for fragment in delta.tool_calls or ():
                attempt.delivered = True
                slot = attempt.calls.setdefault(fragment.index, {"id": "", "name": "", "args": []})
                if fragment.id:
                    slot["id"] = fragment.id
                if fragment.function is not None:
                    # The name arrives whole in one fragment; some servers repeat it.
                    if fragment.function.name and not slot["name"]:
                        slot["name"] = storable(fragment.function.name)
                    if fragment.function.arguments:
                        slot["args"].append(storable(fragment.function.arguments))
        if choice.finish_reason:
            attempt.finish_reason = choice.finish_reason


def stream_once(
    client: openai.OpenAI,
    request: dict,
    attempt: Attempt,
    on_text: Callable[[str], None] | None,
    should_cancel: Callable[[], bool] | None,
    timeout: float,
    on_reasoning: Callable[[str], None] | None = None,
) -> None:
    """Stream one attempt of ``request`` into ``attempt``; raise ``LLMError`` when it fails or breaks."""
    deadline = time.monotonic() + timeout
    try:
        stream = client.chat.completions.create(**request)
    except openai.OpenAIError as exc:
        raise map_request_error(exc) from exc

    with stream:
        chunks = iter(stream)
        while True:
            # Only the SDK's own reading is guarded here: errors raised by
            # on_text belong to the caller and pass through untouched.
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except openai.APITimeoutError as exc:
                raise _broken(attempt, "The model stream stalled longer than LLM_TIMEOUT.", code="timeout") from exc
            except openai.APIConnectionError as exc:
                cause = exc.__cause__ or exc
                raise _broken(attempt, f"The model stream was cut: {cause}") from exc
            except openai.APIError as exc:  # an error event inside the stream
                raise _broken(
                    attempt, f"The model reported an error mid-stream: {exc.message}", code="server_error"
                ) from exc
            except (ValueError, TypeError, AttributeError) as exc:  # malformed chunk (JSON or shape)
                raise _broken(attempt, f"The model sent a malformed chunk: {exc}") from exc
            _apply_chunk(attempt, chunk, on_text, on_reasoning)
            check_cancel(should_cancel)
            if time.monotonic() > deadline:
                raise _broken(attempt, "The model call took longer than LLM_TIMEOUT.", code="timeout")

    if attempt.finish_reason is None:
        # A clean end of body without a finish_reason: the server stopped early.
        raise _broken(attempt, "The model stream ended before the answer was finished.")


def partial_result(attempt: Attempt, request: dict, started: float, finish_reason: str) -> LLMResult | None:
    """Return what a failed or cancelled attempt streamed, with its usage; None when it streamed nothing.

    A server charges a call that streamed output, finished or not. Its own
    usage counts when it arrived; else the request and the fragments received
    are estimated, so the charge is never less than the prompt.
    """
    if not attempt.delivered and not attempt.usage.total_tokens:
        return None
    content = "".join(attempt.parts)
    tool_calls = attempt.tool_calls()
    usage = attempt.usage
    if not usage.total_tokens:
        usage = estimate_usage(
            messages=request["messages"],
            tools=request.get("tools"),
            content=content + "".join(attempt.reasoning),
            tool_calls=tool_calls,
        )
    return LLMResult(
        content=content,
        tool_calls=tool_calls,
        usage=usage,
        finish_reason=finish_reason,
        latency_ms=int((time.monotonic() - started) * 1000),
        model=attempt.model,
        first_token_ms=attempt.first_token_ms(started),
    )
