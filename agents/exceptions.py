"""The engine's domain errors. Each has a stable ``code`` clients can rely on."""

from agents_platform.errors import Conflict, DomainError, InvalidInput, NotFound, TooManyRequests, Unprocessable

__all__ = [
    "ActiveRunExists",
    "BudgetExceeded",
    "Conflict",
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
]


class RunNotFound(NotFound):
    code = "run_not_found"
    message = "Run not found."


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


class RunCancelled(Exception):
    """Raised inside agent code when the run's cancel flag is seen."""


class RunGone(RunCancelled):
    """The run is gone (deleted with its session), finished elsewhere (swept), or its lease was taken over:
    stop, write nothing more."""


class RunReleased(RunGone):
    """This process gives the run back (draining): stop, write nothing more; another owner resumes it."""


class RunLimitExceeded(DomainError):
    """An agent went over AGENT_MAX_ITERATIONS or a plan over its limits."""

    code = "limit_exceeded"
    status = 500


class LLMError(DomainError):
    """A model call failed. ``code`` is one of: rate_limited, server_error,
    timeout, bad_request, auth_error, connection_error, stream_broken."""

    code = "llm_error"
    status = 502

    def __init__(
        self, message: str | None = None, *, code: str, retryable: bool = False, status_code: int | None = None
    ):
        super().__init__(message, code=code)
        self.retryable = retryable
        self.status_code = status_code
