"""The engine's domain errors. Each has a stable ``code`` clients can rely on."""

from agents.redact import redact_secrets
from agents_platform.errors import Conflict, DomainError, InvalidInput, NotFound, TooManyRequests, Unprocessable

__all__ = [
    "ActiveRunExists",
    "ApprovalDecided",
    "ApprovalNotFound",
    "BudgetExceeded",
    "Conflict",
    "CostBudgetExceeded",
    "DomainError",
    "IdempotencyMismatch",
    "InvalidInput",
    "LLMError",
    "NotFound",
    "RateLimited",
    "RunCancelled",
    "RunGone",
    "RunLimitExceeded",
    "RunNotFound",
    "RunReleased",
    "RunStopped",
    "RunWaiting",
    "TooManyStreams",
]


class RunNotFound(NotFound):
    code = "run_not_found"
    message = "Run not found."


class ApprovalNotFound(NotFound):
    code = "approval_not_found"
    message = "Approval not found."


class ApprovalDecided(Conflict):
    code = "approval_decided"
    message = "This approval was already decided or has expired."


class ActiveRunExists(Conflict):
    code = "run_active"
    message = "This session already has an active run."


class IdempotencyMismatch(Unprocessable):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used with a different request body."


class RateLimited(TooManyRequests):
    code = "rate_limited"
    message = "Too many messages; try again later."


class BudgetExceeded(TooManyRequests):
    code = "token_budget_exceeded"
    message = "Token budget for this minute is used up; try again later."


class TooManyStreams(TooManyRequests):
    code = "too_many_streams"
    message = "Too many event streams open; close one and try again."


class CostBudgetExceeded(TooManyRequests):
    code = "cost_budget_exceeded"
    message = "Your daily budget (AGENT_COST_BUDGET_DAILY) is used up; it opens again at midnight UTC."


class RunStopped(Exception):
    """Raised inside agent code when it must stop working on the run: RunCancelled or RunGone.

    ``partial`` is what a model call had streamed when the stop interrupted it
    (an ``agents.llm.gateway.LLMResult`` with ``finish_reason="cancelled"``),
    or None.
    """

    partial = None


class RunCancelled(RunStopped):
    """The user asked the run to stop: it ends ``cancelled``, its partial call stored and charged like any call."""


class RunGone(RunStopped):
    """The run is gone (deleted with its session), finished elsewhere (swept), or its lease was taken over:
    stop, write nothing more."""


class RunReleased(RunGone):
    """This process gives the run back (draining): stop, write nothing more; another owner resumes it."""


class RunWaiting(RunGone):
    """The run waits for the user's decision (an approval): its owner lets it go, writes nothing more;
    a decision hands it to whichever owner is free."""


class RunLimitExceeded(DomainError):
    """An agent went over AGENT_MAX_ITERATIONS or a plan over its limits."""

    code = "limit_exceeded"


class LLMError(DomainError):
    """A model call failed.

    ``code`` is one of: rate_limited, server_error, timeout, bad_request,
    auth_failed, connection_error, stream_broken. ``message`` is the generic
    text for that code, safe to show users and store; the model server's own
    words (which may quote a key, a DSN or a prompt) are only in ``detail``,
    with secrets masked, for logs and operators. ``status_code`` is the HTTP
    status the model server answered (None when it did not answer): a fact
    about the call, not the status of any response of ours (that is
    ``agents_platform.errors.http_status``'s). ``partial`` is what the call
    had streamed before it failed (an ``agents.llm.gateway.LLMResult`` with
    ``finish_reason="error"``), or None when nothing was streamed: it is
    stored and charged like a finished call.
    """

    code = "llm_error"
    message = "The model call failed."
    MESSAGES = {
        "rate_limited": "The model service is busy and refused the call (rate_limited).",
        "server_error": "The model service failed to answer (server_error).",
        "timeout": "The model did not answer in time (timeout).",
        "bad_request": "The model service refused the request (bad_request).",
        "auth_failed": "The model service refused the platform's credentials (auth_failed).",
        "connection_error": "The model service could not be reached (connection_error).",
        "stream_broken": "The model's answer was cut off before it was finished (stream_broken).",
    }

    def __init__(self, *, code: str, detail: str = "", retryable: bool = False, status_code: int | None = None):
        # No message argument: the text users see is never the model server's.
        super().__init__(self.MESSAGES.get(code) or f"The model call failed ({code}).", code=code)
        self.detail = redact_secrets(detail)
        self.retryable = retryable
        self.status_code = status_code
        self.partial = None

    def for_user(self, *, run_id) -> str:
        """Return the message users see: the generic text and the run as a reference for support."""
        return f"{self.message.rstrip('.')} (reference: run {run_id})."
