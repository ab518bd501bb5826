"""The model gateway: the only place that talks to a model.

One ``openai`` client per process streams Chat Completions (CONTRACT.md
section 5): text deltas go to ``on_text`` as they arrive, streamed tool calls
are assembled by index, usage comes from the model's own usage chunk. SDK
errors become ``LLMError`` with a stable ``code`` and a generic message; the
server's own words go to ``detail`` (secrets masked), never to users (the
caller logs it with the run it belongs to). Retries are ours, not the SDK's
(``max_retries=0``), so the engine hears about each one through ``on_retry``
and nothing is retried once the user has seen output. A call that fails or
is cancelled after it streamed something carries what it streamed
(``partial``), with the server's usage or our estimate of it, so the caller
can store and charge it.
"""

import json
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2
import openai
from django.conf import settings

from agents.exceptions import LLMError, RunCancelled, RunStopped
from agents.llm.offline import count_tokens
from agents.llm.offline_answers import message_text
from agents.storable import storable

logger = logging.getLogger(__name__)

# Backoff of our own retries: base * 2**(attempt-1), at most RETRY_MAX_DELAY,
# less a random 0-25% so parallel executors do not retry in lockstep. Module
# level so tests can make it tiny.
RETRY_BASE_DELAY = 0.5
RETRY_MAX_DELAY = 8.0
# A server's Retry-After is honoured up to this many seconds: a run that waits
# minutes for a rate limit is worse than a run that fails and says why.
RETRY_AFTER_CAP = 5.0
# How often a retry's sleep looks at the cancel flag.
CANCEL_POLL_INTERVAL = 0.2

OFFLINE_BASE_URL = "http://offline.invalid/v1"
# Local OpenAI-compatible servers need no key, but the SDK refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"

ERROR_CODES = frozenset(
    {"rate_limited", "server_error", "timeout", "bad_request", "auth_failed", "connection_error", "stream_broken"}
)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model sent it


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, served from the provider's prompt cache (priced lower)


@dataclass
class LLMResult:
    content: str
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str | None
    latency_ms: int
    model: str
    first_token_ms: int | None = None  # from the call's start to its first text or tool-call delta


# --- The client ----------------------------------------------------------------

_client_lock = threading.Lock()
_client: openai.OpenAI | None = None
_client_key: tuple | None = None


def _settings_key() -> tuple:
    return (
        settings.LLM_PROVIDER,
        settings.OPENAI_BASE_URL,
        settings.OPENAI_API_KEY,
        float(settings.LLM_TIMEOUT),
    )


def _build_client(provider: str, base_url: str | None, api_key: str | None, timeout: float) -> openai.OpenAI:
    # connect/read/write/pool each get LLM_TIMEOUT: a read that waits longer
    # than that for the next byte is a stalled stream.
    http_timeout = httpx2.Timeout(timeout)
    if provider == "offline":
        from agents.llm.offline import OfflineTransport

        return openai.OpenAI(
            api_key="offline",
            base_url=OFFLINE_BASE_URL,
            max_retries=0,
            timeout=http_timeout,
            http_client=httpx2.Client(transport=OfflineTransport(), timeout=http_timeout),
        )
    if not api_key:
        if not base_url:
            raise LLMError(
                code="auth_failed",
                detail="OPENAI_API_KEY is not set "
                "(LLM_PROVIDER=openai needs it unless OPENAI_BASE_URL names a local server).",
            )
        api_key = PLACEHOLDER_API_KEY
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,  # None: the SDK's default endpoint
        max_retries=0,
        timeout=http_timeout,
        http_client=openai.DefaultHttpx2Client(timeout=http_timeout),
    )


def get_client() -> openai.OpenAI:
    """Return the process's client, building it again only when its settings changed."""
    global _client, _client_key
    key = _settings_key()
    with _client_lock:
        if _client is None or _client_key != key:
            previous = _client
            _client = _build_client(*key)
            _client_key = key
            if previous is not None:
                previous.close()
        return _client


def reset_client() -> None:
    """Close and forget the cached client (tests that point settings elsewhere)."""
    global _client, _client_key
    with _client_lock:
        previous, _client, _client_key = _client, None, None
    if previous is not None:
        previous.close()


# --- Errors ----------------------------------------------------------------------


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(exc)


def _map_status_error(exc: openai.APIStatusError) -> LLMError:
    status = exc.status_code
    detail = f"The model server answered {status}: {_server_message(exc)}"
    if status == 429:
        return LLMError(code="rate_limited", detail=detail, retryable=True, status_code=status)
    if status >= 500:
        return LLMError(code="server_error", detail=detail, retryable=True, status_code=status)
    if status in (401, 403):
        return LLMError(code="auth_failed", detail=detail, status_code=status)
    if status == 408:
        return LLMError(code="timeout", detail=detail, retryable=True, status_code=status)
    if status == 409:  # the SDK itself retries lock conflicts
        return LLMError(code="server_error", detail=detail, retryable=True, status_code=status)
    return LLMError(code="bad_request", detail=detail, status_code=status)


def _map_request_error(exc: openai.OpenAIError) -> LLMError:
    """Map an error raised before the stream started."""
    if isinstance(exc, openai.APIStatusError):
        return _map_status_error(exc)
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(code="timeout", detail="The model did not answer within LLM_TIMEOUT.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return LLMError(code="connection_error", detail=f"Could not reach the model server: {cause}", retryable=True)
    return LLMError(code="server_error", detail=f"The model call failed: {exc}")


def _retry_after(error: LLMError) -> float | None:
    """Return the server's Retry-After (seconds) behind this error, if it sent one."""
    cause = error.__cause__
    if not isinstance(cause, openai.APIStatusError):
        return None
    headers = cause.response.headers
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue  # an HTTP date: rare from model servers, our backoff will do
        if seconds >= 0:
            return seconds
    return None


def retry_delay(attempt: int, error: LLMError) -> float:
    """Return how long to wait before retry number ``attempt`` (1-based)."""
    server_says = _retry_after(error)
    if server_says is not None:
        return min(server_says, RETRY_AFTER_CAP)
    backoff = min(RETRY_BASE_DELAY * 2 ** (attempt - 1), RETRY_MAX_DELAY)
    return backoff * (1 - 0.25 * random.random())


# --- What an unfinished call used ---------------------------------------------------


def estimate_tokens(text: str) -> int:
    """Estimate a text's tokens: the larger of its words and punctuation marks and a quarter of its characters.

    The larger, because an undercount is tokens nobody pays for.
    """
    return max(count_tokens(text), math.ceil(len(text) / 4)) if text else 0


def estimate_usage(
    *, messages: list[dict], tools: list[dict] | None, content: str, tool_calls: list[ToolCall]
) -> Usage:
    """Estimate the usage of a call the server sent no usage for: its request and what it streamed."""
    prompt = sum(estimate_tokens(message_text(message)) for message in messages)
    if tools:
        prompt += estimate_tokens(json.dumps(tools))
    completion = estimate_tokens(content) + sum(
        estimate_tokens(call.name) + estimate_tokens(call.arguments) for call in tool_calls
    )
    return Usage(prompt, completion, prompt + completion)


def _partial_result(attempt: "_Attempt", request: dict, started: float, finish_reason: str) -> LLMResult | None:
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
        first_token_ms=_first_token_ms(attempt, started),
    )


def _first_token_ms(attempt: "_Attempt", started: float) -> int | None:
    return None if attempt.first_token_at is None else int((attempt.first_token_at - started) * 1000)


# --- Streaming ---------------------------------------------------------------------


@dataclass
class _Attempt:
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
        return [
            ToolCall(
                id=slot["id"] or f"call_{uuid.uuid4().hex[:24]}", name=slot["name"], arguments="".join(slot["args"])
            )
            for _, slot in sorted(self.calls.items())
        ]


def _check_cancel(should_cancel: Callable[[], bool] | None) -> None:
    if should_cancel is not None and should_cancel():
        raise RunCancelled()


def _broken(attempt: _Attempt, detail: str, *, code: str = "stream_broken") -> LLMError:
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
    attempt: _Attempt,
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
        attempt.usage = Usage(prompt, completion, chunk.usage.total_tokens or prompt + completion, cached)
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


def _stream_once(
    client: openai.OpenAI,
    request: dict,
    attempt: _Attempt,
    on_text: Callable[[str], None] | None,
    should_cancel: Callable[[], bool] | None,
    timeout: float,
    on_reasoning: Callable[[str], None] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    try:
        stream = client.chat.completions.create(**request)
    except openai.OpenAIError as exc:
        raise _map_request_error(exc) from exc

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
            _check_cancel(should_cancel)
            if time.monotonic() > deadline:
                raise _broken(attempt, "The model call took longer than LLM_TIMEOUT.", code="timeout")

    if attempt.finish_reason is None:
        # A clean end of body without a finish_reason: the server stopped early.
        raise _broken(attempt, "The model stream ended before the answer was finished.")


def chat_stream(
    *,
    model: str,
    messages: list[dict],
    tools: list[dict] | None = None,
    on_text: Callable[[str], None] | None = None,
    on_retry: Callable[[int, LLMError, float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_reasoning: Callable[[str], None] | None = None,
) -> LLMResult:
    """Stream one chat completion and return what the model said.

    ``on_text(delta)`` gets each piece of text as it arrives, ``on_reasoning(delta)``
    each piece of the model's reasoning where the server streams one (never
    part of ``content``). Retryable errors
    are retried up to LLM_MAX_RETRIES times, each announced with
    ``on_retry(attempt, error, delay_s)`` before the wait, but never once the
    stream has delivered text or a tool-call delta. ``should_cancel()`` is
    asked between chunks and before each attempt; when true, ``RunCancelled``
    is raised. Failures raise ``LLMError`` (``code`` in ``ERROR_CODES``). Both
    carry ``partial``: what the last attempt streamed, with its usage, or None.
    """
    started = time.monotonic()
    client = get_client()
    timeout = float(settings.LLM_TIMEOUT)
    max_retries = settings.LLM_MAX_RETRIES
    request: dict = {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if tools:
        request["tools"] = tools

    retries = 0
    while True:
        _check_cancel(should_cancel)
        attempt = _Attempt(model=model)
        try:
            _stream_once(client, request, attempt, on_text, should_cancel, timeout, on_reasoning)
        except RunStopped as stopped:  # cancelled, or gone (lease lost, draining): either way what streamed is kept
            stopped.partial = _partial_result(attempt, request, started, "cancelled")
            raise
        except LLMError as error:
            if not error.retryable or attempt.delivered or retries >= max_retries:
                if attempt.delivered:
                    error.retryable = False
                error.partial = _partial_result(attempt, request, started, "error")
                logger.debug("LLM call to %s failed (%s): %s", model, error.code, error.detail)
                raise
            retries += 1
            delay = retry_delay(retries, error)
            logger.debug(
                "LLM call failed (%s); retry %d of %d in %.2fs: %s",
                error.code,
                retries,
                max_retries,
                delay,
                error.detail,
            )
            if on_retry is not None:
                on_retry(retries, error, delay)
            _sleep(delay, should_cancel)
            continue
        return LLMResult(
            content="".join(attempt.parts),
            tool_calls=attempt.tool_calls(),
            usage=attempt.usage,
            finish_reason=attempt.finish_reason,
            latency_ms=int((time.monotonic() - started) * 1000),
            model=attempt.model,
            first_token_ms=_first_token_ms(attempt, started),
        )


def _sleep(seconds: float, should_cancel: Callable[[], bool] | None) -> None:
    """Sleep, looking at the cancel flag now and then so a cancel is not held up by a backoff."""
    end = time.monotonic() + seconds
    while True:
        _check_cancel(should_cancel)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, CANCEL_POLL_INTERVAL))
