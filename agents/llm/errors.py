"""The model server's errors as ``LLMError``: a stable ``code``, whether a retry may help, the server's words.

The server's own words go to ``detail`` (secrets are masked by ``LLMError``),
never to users: the caller logs them with the run they belong to.
"""

import openai

from agents.exceptions import LLMError

ERROR_CODES = frozenset(
    {"rate_limited", "server_error", "timeout", "bad_request", "auth_failed", "connection_error", "stream_broken"}
)


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


def map_request_error(exc: openai.OpenAIError) -> LLMError:
    """Map an error raised before the stream started."""
    if isinstance(exc, openai.APIStatusError):
        return _map_status_error(exc)
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(code="timeout", detail="The model did not answer within LLM_TIMEOUT.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return LLMError(code="connection_error", detail=f"Could not reach the model server: {cause}", retryable=True)
    return LLMError(code="server_error", detail=f"The model call failed: {exc}")


def retry_after(error: LLMError) -> float | None:
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
