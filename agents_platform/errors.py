"""The platform's error shape and the one handler that produces it.

Every error a client sees before a stream starts is
``{"error": {"code": ..., "message": ..., "fields": {...}}}``
(docs/api.md#errors). Domain code raises a ``DomainError`` subclass, which carries a
code, a message and the fields at fault, never an HTTP status: the status of
each kind of error is here, in ``http_status``. DRF views get the shape from
``api_exception_handler`` and plain Django views from ``error_response``.
Unknown exceptions stay real 500s, except a database or
Redis that cannot be reached (or a database lock that outlasted its wait):
that is a ``503`` ``service_unavailable`` with ``Retry-After``
(``service_unavailable_for``), here for DRF views and in
``agents_platform.middleware`` for every other view.
"""

import functools
import logging
import sqlite3
from typing import Any

import redis.exceptions
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from agents_platform.debug import redact_credentials

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait after a 503: a restarting Redis or a
# database lock is usually gone by then.
SERVICE_RETRY_AFTER = 5
# SQLite reports a lock, a full disk and a syntax error all as OperationalError;
# only these mean "the database is there but cannot serve now".
SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "disk is full")


class DomainError(Exception):
    """An expected failure with a stable code and a message (its HTTP status is the handler's: ``http_status``)."""

    code = "error"
    message = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.message = message or self.message
        self.code = code or self.code
        self.fields = fields or {}
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON body of this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message, "fields": self.fields}
        body.update(self.extra)
        return {"error": body}


class InvalidInput(DomainError):
    code = "invalid"
    message = "The request is invalid."


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    message = "Authentication credentials were not provided or are invalid."


class PermissionDenied(DomainError):
    code = "permission_denied"  # the code DRF gives its own 403s, CSRF failures included
    message = "You do not have permission to perform this action."


class NotFound(DomainError):
    code = "not_found"
    message = "Not found."


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"
    message = "Method not allowed."


class Conflict(DomainError):
    code = "conflict"
    message = "The request conflicts with the current state."


class Unprocessable(DomainError):
    code = "unprocessable"
    message = "The request cannot be processed."


class TooManyRequests(DomainError):
    code = "rate_limited"
    message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int, **kwargs: Any):
        self.retry_after = max(1, int(retry_after))
        headers = {"Retry-After": str(self.retry_after)}
        extra = {"retry_after": self.retry_after}
        super().__init__(message, headers=headers, extra=extra, **kwargs)


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    message = "The service is briefly unavailable; try again in a few seconds."

    def __init__(self, message: str | None = None, *, retry_after: int = SERVICE_RETRY_AFTER, **kwargs: Any):
        self.retry_after = max(1, int(retry_after))
        headers = {"Retry-After": str(self.retry_after)}
        super().__init__(message, headers=headers, extra={"retry_after": self.retry_after}, **kwargs)


def service_unavailable_for(exc: BaseException) -> ServiceUnavailable | None:
    """Return the 503 for an exception that means a backing service is down or busy, else None.

    Redis: connection errors and timeouts. The database: connection errors
    (InterfaceError, and OperationalError on PostgreSQL, pool timeouts
    included); on SQLite only a lock or an unopenable file, since SQLite also
    calls a bad query an OperationalError, and that is a bug (a real 500).
    """
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return ServiceUnavailable()
    if isinstance(exc, InterfaceError):
        return ServiceUnavailable()
    if isinstance(exc, OperationalError):
        cause = exc.__cause__
        if isinstance(cause, sqlite3.Error) and not any(mark in str(cause).lower() for mark in SQLITE_UNAVAILABLE):
            return None
        return ServiceUnavailable()
    return None


@functools.cache
def _statuses() -> dict[type[DomainError], int]:
    # The engine's errors subclass the kinds above; imported here, late, because their module imports this one.
    from agents.exceptions import LLMError, RunLimitExceeded

    return {
        DomainError: 400,
        InvalidInput: 400,
        NotAuthenticated: 401,
        PermissionDenied: 403,
        NotFound: 404,
        MethodNotAllowed: 405,
        Conflict: 409,
        Unprocessable: 422,
        TooManyRequests: 429,
        RunLimitExceeded: 500,
        LLMError: 502,
        ServiceUnavailable: 503,
    }


def http_status(error: DomainError) -> int:
    """Return the HTTP status of a domain error: that of the nearest kind of error it is (its class or a base)."""
    statuses = _statuses()
    return next(statuses[kind] for kind in type(error).__mro__ if kind in statuses)


def error_response(error: DomainError) -> JsonResponse:
    """Return the JSON response for a domain error, for plain Django views."""
    response = JsonResponse(error.as_dict(), status=http_status(error))
    for name, value in error.headers.items():
        response[name] = value
    return response


def exc_summary(exc: BaseException) -> str:
    """Return the exception's class and first line, for a log line without a traceback."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact_credentials(f"{exc.__class__.__module__}.{exc.__class__.__name__}: {first_line}")


def _drf_fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(key): [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    return {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain errors, DRF's own errors and unreachable services to the contract's JSON shape."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=http_status(exc), headers=exc.headers)
    if (unavailable := service_unavailable_for(exc)) is not None:
        request = context.get("request")
        logger.warning("%s %s: 503, %s", getattr(request, "method", ""), getattr(request, "path", ""), exc_summary(exc))
        return Response(unavailable.as_dict(), status=http_status(unavailable), headers=unavailable.headers)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        body = {"code": "invalid", "message": "The request is invalid.", "fields": _drf_fields(exc.detail)}
    else:
        detail = getattr(exc, "detail", "")
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        if isinstance(exc, drf_exceptions.NotFound | drf_exceptions.PermissionDenied) and response.status_code == 404:
            code = "not_found"
        body = {"code": str(code), "message": str(detail), "fields": {}}
    response.data = {"error": body}
    return response
