"""OpenAPI building blocks: the error shape, the limits as patterns, and small JSON Schema helpers.

Every error response names the codes it can carry (``error_responses``), and
every limit the server enforces is in the schema, so a client (or Schemathesis,
tests/platform/test_schemathesis.py) can trust both.

drf-spectacular describes DRF views by itself. What it cannot see is written
by hand in the sibling modules: the SSE endpoints and their request body
(``schema_streams``, whose postprocessing hook is named in
``SPECTACULAR_SETTINGS``), the event components generated from the event
catalogue (``schema_events``), the other protocols' streams
(``schema_protocols``) and the tools (``schema_tools``). Keep them in step with
the contract, not with the code: it is the contract a client reads.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from drf_spectacular.utils import OpenApiResponse

SCHEMA_REF = "#/components/schemas/{}"

# --- Text limits as patterns ---------------------------------------------------

# The characters Python's str.strip() removes (str.isspace), as a class that ECMA 262,
# Python's re and Rust's regex (Schemathesis validates with it) all read alike; `\s`
# means a different set in each of them.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
# Searched, not anchored (JSON Schema's `pattern`): at least one character that is not whitespace.
NOT_BLANK = f"[^{WHITESPACE}]"


def trimmed_text_pattern(max_chars: int) -> str:
    """Return a pattern of text that is 1..``max_chars`` characters after str.strip(), without NUL.

    ``maxLength`` cannot say "after trimming", and a raw limit would be wrong
    both ways (the server accepts padding around a full-length text).
    """
    edge = f"[^{WHITESPACE}\\x00]"
    inner = f"(?:[^\\x00]{{0,{max_chars - 2}}}{edge})?" if max_chars > 1 else ""
    return f"^[{WHITESPACE}]*{edge}{inner}[{WHITESPACE}]*$"


# --- Errors --------------------------------------------------------------------

ERROR_DETAIL = {
    "type": "object",
    "required": ["code", "message", "fields"],
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable code; each response lists its own."},
        "message": {"type": "string", "description": "What went wrong, in plain words."},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Problems per request field (or header, or query parameter).",
        },
        "run_id": {"type": "string", "format": "uuid", "description": "409 only: the session's active run, to rejoin."},
        "retry_after": {"type": "integer", "description": "429 only: seconds to wait (as Retry-After)."},
    },
}
ERROR = {
    "type": "object",
    "description": "The JSON body of every error answered before a stream starts.",
    "required": ["error"],
    "properties": {"error": {"$ref": SCHEMA_REF.format("ErrorDetail")}},
}

ERROR_DESCRIPTIONS = {
    400: "Invalid request: `error.code` names the problem, `error.fields` the fields.",
    401: "Not authenticated: no credentials, or a token that is not valid.",
    403: "CSRF check failed: a cookie-authenticated unsafe request without a valid `X-CSRFToken`.",
    404: "Not found: unknown, malformed, or another user's id (never 403).",
    409: "The session already has an active run; `error.run_id` is it.",
    415: "The body is not JSON (`Content-Type` other than `application/json`).",
    422: "The Idempotency-Key was already used with another body.",
    429: "Over the request rate (`rate_limited`), the token budget (`token_budget_exceeded`), the daily dollar "
    "budget (`cost_budget_exceeded`, Retry-After to midnight UTC) or the open-stream cap (`too_many_streams`); "
    "wait `Retry-After` seconds.",
    503: "The database or the cache cannot serve right now; try again after `Retry-After` seconds.",
}
# The codes every authenticated endpoint may answer with.
NOT_AUTHENTICATED = ("not_authenticated",)
DRF_NOT_AUTHENTICATED = ("not_authenticated", "authentication_failed")  # DRF says which: none, or a bad token
CSRF_FAILED = ("permission_denied",)


def error_schema(codes: Iterable[str]) -> dict[str, Any]:
    """Return the error shape whose ``error.code`` is one of ``codes``."""
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "allOf": [
                    {"$ref": SCHEMA_REF.format("ErrorDetail")},
                    {"type": "object", "properties": {"code": {"type": "string", "enum": sorted(codes)}}},
                ]
            }
        },
    }


def _error_description(status: int, codes: Iterable[str]) -> str:
    return f"{ERROR_DESCRIPTIONS[status]} Codes: {', '.join(f'`{code}`' for code in sorted(codes))}."


def error_responses(codes_by_status: Mapping[int, Iterable[str]]) -> dict[int, OpenApiResponse]:
    """Return ``extend_schema`` responses of the error shape, each status with the codes it can carry."""
    return {
        status: OpenApiResponse(error_schema(codes), description=_error_description(status, codes))
        for status, codes in codes_by_status.items()
    }


def error_response_schema(status: int, codes: Iterable[str]) -> dict[str, Any]:
    """Return an OpenAPI response object (not a spectacular one) of the error shape, with Retry-After where due."""
    response: dict[str, Any] = {
        "description": _error_description(status, codes),
        "content": {"application/json": {"schema": error_schema(codes)}},
    }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
        }
    return response


# --- JSON Schema helpers -------------------------------------------------------

ANY_VALUE: dict[str, Any] = {"description": "Any JSON value."}


def json_object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """Return an object schema; every property is required unless ``required`` says otherwise."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    schema["required"] = required if required is not None else list(properties)
    return schema


def json_string(description: str = "", **extra: Any) -> dict[str, Any]:
    """Return a string schema with an optional description."""
    return {"type": "string", **({"description": description} if description else {}), **extra}


def json_enum(*values: str, description: str = "") -> dict[str, Any]:
    """Return a string schema of a closed set of values."""
    return json_string(description, enum=list(values))
