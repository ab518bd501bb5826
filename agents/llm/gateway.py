"""The model gateway: the only place that talks to a model.

``chat_stream`` streams one Chat Completions call (docs/architecture.md#talking-to-the-model)
through the process's ``openai`` client (``agents.llm.client``), one attempt
at a time (``agents.llm.stream``), and retries what may be retried. SDK errors
become ``LLMError`` with a stable ``code`` and a generic message
(``agents.llm.errors``). Retries are ours, not the SDK's, so the engine hears
about each one through ``on_retry`` and nothing is retried once the user has
seen output. A call that fails or is cancelled after it streamed something
carries what it streamed (``partial``), with the server's usage or our
estimate of it (``agents.llm.tokens``), so the caller can store and charge it.

Callers use this module's names: the call, its result types, the estimate of
an unfinished call and the client's reset.
"""

import logging
import random
import time
from collections.abc import Callable

from django.conf import settings

from agents.exceptions import LLMError, RunStopped
from agents.llm.client import get_client, reset_client
from agents.llm.errors import retry_after
from agents.llm.results import LLMResult, ToolCall, Usage
from agents.llm.stream import Attempt, check_cancel, partial_result, stream_once
from agents.llm.tokens import estimate_usage

# What callers reach through ``from agents.llm import gateway as llm``.
__all__ = ["LLMResult", "ToolCall", "Usage", "chat_stream", "estimate_usage", "get_client", "reset_client"]

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


def retry_delay(attempt: int, error: LLMError) -> float:
    """Return how long to wait before retry number ``attempt`` (1-based)."""
    server_says = retry_after(error)
    if server_says is not None:
        return min(server_says, RETRY_AFTER_CAP)
    backoff = min(RETRY_BASE_DELAY * 2 ** (attempt - 1), RETRY_MAX_DELAY)
    return backoff * (1 - 0.25 * random.random())


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
    is raised. Failures raise ``LLMError`` (``code`` in ``agents.llm.errors.ERROR_CODES``). Both
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
        check_cancel(should_cancel)
        attempt = Attempt(model=model)
        try:
            stream_once(client, request, attempt, on_text, should_cancel, timeout, on_reasoning)
        except RunStopped as stopped:  # cancelled, or gone (lease lost, draining): either way what streamed is kept
            stopped.partial = partial_result(attempt, request, started, "cancelled")
            raise
        except LLMError as error:
            if not error.retryable or attempt.delivered or retries >= max_retries:
                if attempt.delivered:
                    error.retryable = False
                error.partial = partial_result(attempt, request, started, "error")
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
        return attempt.result(started)


def _sleep(seconds: float, should_cancel: Callable[[], bool] | None) -> None:
    """Sleep, looking at the cancel flag now and then so a cancel is not held up by a backoff."""
    end = time.monotonic() + seconds
    while True:
        check_cancel(should_cancel)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, CANCEL_POLL_INTERVAL))
