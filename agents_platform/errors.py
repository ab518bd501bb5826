"""The platform's error shape and the one handler that produces it.

Every error a client sees before a stream starts is
``{"error": {"code": ..., "message": ..., "fields": {...}}}`` (CONTRACT.md
section 3). Domain code raises a ``DomainError`` subclass; DRF views get the
shape from ``api_exception_handler`` and plain Django views from
``error_response``. Unknown exceptions stay real 500s.
"""

from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """An expected failure with a stable code, an HTTP status and a message."""

    code = "error"
    status = 400
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
    status = 400
    message = "The request is invalid."


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401
    message = "Authentication credentials were not provided or are invalid."


class PermissionDenied(DomainError):
    code = "permission_denied"  # the code DRF gives its own 403s, CSRF failures included
    status = 403
    message = "You do not have permission to perform this action."


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = "Not found."


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"
    status = 405
    message = "Method not allowed."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = "The request conflicts with the current state."


class Unprocessable(DomainError):
    code = "unprocessable"
    status = 422
    message = "The request cannot be processed."


class TooManyRequests(DomainError):
    code = "rate_limited"
    status = 429
    message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int, **kwargs: Any):
        self.retry_after = max(1, int(retry_after))
        headers = {"Retry-After": str(self.retry_after)}
        extra = {"retry_after": self.retry_after}
        super().__init__(message, headers=headers, extra=extra, **kwargs)


def error_response(error: DomainError) -> JsonResponse:
    """Return the JSON response for a domain error, for plain Django views."""
    response = JsonResponse(error.as_dict(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _drf_fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(key): [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    return {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain errors and DRF's own errors to the contract's JSON shape."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status, headers=exc.headers)
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
