"""OpenAPI extras: the error shape, the limits as patterns, and the streaming endpoints spectacular cannot see.

Every error response names the codes it can carry (``error_responses``), and
every limit the server enforces is in the schema, so a client (or Schemathesis,
tests/platform/test_schemathesis.py) can trust both.

drf-spectacular describes DRF views by itself. The two SSE endpoints are plain
async Django views (DRF views are sync), so ``add_streaming_endpoints``
- a postprocessing hook named in ``SPECTACULAR_SETTINGS`` - writes their
paths by hand, with the request body, the ``text/event-stream`` response, the
JSON errors before the stream, and every event type of docs/events.md
as a component. Keep it in step with the contract, not with the code: it is
the contract a client reads.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from drf_spectacular.utils import OpenApiResponse

from agents.events import exports
from agents_platform.schema_protocols import protocol_paths

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


# --- The event stream (docs/events.md) --------------------------------------

ANY_VALUE: dict[str, Any] = {"description": "Any JSON value."}


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    schema["required"] = required if required is not None else list(properties)
    return schema


def _string(description: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def _enum(*values: str, description: str = "") -> dict[str, Any]:
    return _string(description, enum=list(values))


EVENT_BASE = _obj(
    {
        "type": _string("The event type; clients ignore types they do not know."),
        "run_id": _string(format="uuid"),
        "session_id": _string(format="uuid"),
        "seq": {"type": "integer", "minimum": 1, "description": "1, 2, 3, … within the run, no gaps; the SSE id."},
        "ts": _string("When it happened (UTC).", format="date-time"),
    },
    description="Fields every event carries.",
)

STREAM_DESCRIPTION = (
    "Server-Sent Events. Every frame is `id: <seq>`, one `data:` line holding one JSON event "
    "(a [`RunEvent`](#/components/schemas/RunEvent)), then a blank line: `id: <seq>\\ndata: <json>\\n\\n`. "
    "`: keep-alive` comments come at least every 20 s. `done` is always the last event. After the first "
    "byte the status is 200: failures arrive as `error` events. The run goes on when the client "
    "disconnects; rejoin with `GET /api/agent/runs/{run_id}/stream` and `Last-Event-ID`."
)
STREAM_EXAMPLE = (
    'id: 1\ndata: {"type":"session","run_id":"…","session_id":"…","seq":1,"ts":"…","session":{…}}\n\n'
    'id: 2\ndata: {"type":"analysis","run_id":"…","session_id":"…","seq":2,"ts":"…","strategy":"simple",…}\n\n'
    ": keep-alive\n\n"
)
# The body as text: event frames and comment frames, each ending with a blank line.
STREAM_PATTERN = r"^(?:(?:id: [1-9][0-9]*\ndata: [^\n]*|:[^\n]*)\n\n)*$"
SEQ_PATTERN = r"^[1-9][0-9]*$"

# OpenAPI 3.0 has no schema for one item of a stream. A client that reads the
# body as text validates it against `RunEventStream`; an SSE-aware one (such as
# Schemathesis, or OpenAPI 3.2's `itemSchema` model of text/event-stream)
# parses frames into `{id, event, data}` objects and validates each against
# `RunEventFrame`. The JSON inside `data` is a `RunEvent`: 3.0 cannot say so in
# a keyword (`contentSchema` is 3.1), so `x-contentSchema` names it.
STREAM_COMPONENTS: dict[str, dict[str, Any]] = {
    "RunEventStream": {
        "type": "string",
        "description": "The whole body as text: frames `id: <seq>\\ndata: <json>\\n\\n`, and comment frames "
        "(`: keep-alive\\n\\n`) that clients skip.",
        "pattern": STREAM_PATTERN,
        "example": STREAM_EXAMPLE,
    },
    "RunEventFrame": {
        "type": "object",
        "description": "One event frame as an SSE client parses it (comment frames are not events).",
        "required": ["id", "data"],
        "additionalProperties": False,
        "properties": {
            "id": _string("The event's `seq`; send the last one back as `Last-Event-ID`.", pattern=SEQ_PATTERN),
            "event": _enum(
                "message",
                description="Never sent: every frame has SSE's default type; the event's own `type` is in `data`.",
            ),
            "data": _string(
                "One line of JSON: a `RunEvent` (`#/components/schemas/RunEvent`).",
                **{
                    "x-contentMediaType": "application/json",
                    "x-contentSchema": {"$ref": SCHEMA_REF.format("RunEvent")},
                },
            ),
        },
    },
}


def event_components() -> dict[str, dict[str, Any]]:
    """Return the component schemas of the event stream: one per type, ``RunEvent`` (one of them), and frames."""
    components: dict[str, dict[str, Any]] = {"RunEventBase": EVENT_BASE}
    mapping: dict[str, str] = {}
    for event_type, (name, description, own) in exports.schemas().items():
        components[name] = {"description": description, "allOf": [{"$ref": SCHEMA_REF.format("RunEventBase")}, own]}
        mapping[event_type] = SCHEMA_REF.format(name)
    components["RunEvent"] = {
        "description": "One event of a run's stream (docs/events.md), the JSON of one frame's `data`; "
        "the server may add types.",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    components.update(STREAM_COMPONENTS)
    return components


def _stream_response() -> dict[str, Any]:
    return {
        "description": STREAM_DESCRIPTION,
        "headers": {
            "Cache-Control": {"schema": {"type": "string", "example": "no-cache"}},
            "X-Accel-Buffering": {"schema": {"type": "string", "example": "no"}},
        },
        "content": {
            "text/event-stream": {
                "schema": {
                    "oneOf": [
                        {"$ref": SCHEMA_REF.format("RunEventStream")},
                        {"$ref": SCHEMA_REF.format("RunEventFrame")},
                    ]
                },
                "example": STREAM_EXAMPLE,
            }
        },
    }


def _error_response(status: int, codes: Iterable[str]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _error_description(status, codes),
        "content": {"application/json": {"schema": error_schema(codes)}},
    }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
        }
    return response


RUN_ID_PARAMETER = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "description": "The run's id (one of yours).",
    "schema": {"type": "string", "format": "uuid"},
}
# Last-Event-ID: at most 10 digits (agents/http/streams.py), and never past the run's last event (400).
LAST_EVENT_ID_MAX = 9_999_999_999


def context_type_pattern(context_types: Iterable[str]) -> str:
    """Return a pattern of the accepted ``context_type`` values: a registered one, padded or not, or blank."""
    names = "|".join(sorted(context_types))  # provider names are [a-z0-9_.-]: escaped as they are
    names = names.replace(".", "\\.")
    return f"^[{WHITESPACE}]*(?:(?:{names})[{WHITESPACE}]*)?$"


def agent_stream_request(
    *,
    max_message_chars: int,
    context_type_max: int,
    entity_id_max: int,
    context_types: Iterable[str] = ("general",),
    history_max: int = 100,
) -> dict[str, Any]:
    """Return the body schema of ``POST /api/agent/stream`` for the configured limits."""
    turn = _obj(
        {
            "role": _enum("user", "assistant"),
            "content": _string(
                f"1..{max_message_chars} characters after trimming; no NUL.",
                pattern=trimmed_text_pattern(max_message_chars),
            ),
        },
        description="An earlier turn of the conversation. Other fields are ignored.",
    )
    return _obj(
        {
            "message": _string(
                f"1..{max_message_chars} (`AGENT_MAX_MESSAGE_CHARS`) characters after trimming; no NUL.",
                pattern=trimmed_text_pattern(max_message_chars),
            ),
            "session_id": _string("Continue this session (yours); null starts one.", format="uuid", nullable=True),
            "context_type": _string(
                "What the chat is about (`general` when absent or blank): `general` or the type of a registered "
                "context provider, whose text reaches the planner. Read when a session starts; any other type "
                "answers 400 `unknown_context_type`.",
                nullable=True,
                maxLength=context_type_max,
                pattern=context_type_pattern(context_types),
            ),
            "entity_id": _string(
                "Id of that thing (none when blank); no NUL. The context provider may refuse it "
                "(400 `unknown_context_type`: not one the user may see).",
                nullable=True,
                maxLength=entity_id_max,
                pattern=NO_NUL,
            ),
            "multitask": _string(
                "When the session already has an active run: `reject` (the default) answers 409; `enqueue` "
                "stores the message and starts its run when the runs before it ended (this response streams "
                "it from its first event once it starts); `interrupt` cancels the session's active runs, then "
                "starts this one.",
                enum=["reject", "enqueue", "interrupt", None],
                nullable=True,
            ),
            "conversation_history": {
                "type": "array",
                "items": turn,
                "maxItems": history_max,
                "nullable": True,
                "description": "Only when starting a new session (no `session_id`; otherwise 400): earlier turns "
                "to import as the session's first messages, oldest first.",
            },
            "review_plan": {
                "type": "boolean",
                "nullable": True,
                "description": "true: a complex run waits for you to approve, edit or reject its plan "
                "(`approval_required` `kind: plan`) before any executor starts.",
            },
        },
        ["message"],
        description="Any other field is ignored.",
    )


# The error codes of the two stream endpoints, by status (agents/http/streams.py, agents/runs/services.py).
AGENT_STREAM_ERRORS: dict[int, tuple[str, ...]] = {
    400: (
        "invalid_json",
        "body_too_large",
        "invalid_body",
        "invalid_message",
        "invalid_session_id",
        "invalid_review_plan",
        "invalid_context_type",
        "invalid_entity_id",
        "invalid_multitask",
        "invalid_conversation_history",
        "unknown_context_type",
        "invalid_idempotency_key",
    ),
    401: NOT_AUTHENTICATED,
    403: CSRF_FAILED,
    404: ("session_not_found",),
    409: ("run_active",),
    422: ("idempotency_key_reused",),
    429: ("rate_limited", "token_budget_exceeded", "too_many_streams"),
    503: ("service_unavailable",),
}
RUN_STREAM_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("invalid_last_event_id",),
    401: NOT_AUTHENTICATED,
    404: ("run_not_found",),
    429: ("too_many_streams",),
    503: ("service_unavailable",),
}
SESSION_FEED_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("invalid_last_event_id",),
    401: NOT_AUTHENTICATED,
    404: ("session_not_found",),
    429: ("too_many_streams",),
    503: ("service_unavailable",),
}
FEED_EVENT_ID_PATTERN = r"^[0-9a-f-]{36}:[0-9]{1,10}$"


def streaming_paths(security: list[dict[str, list]], *, idempotency_key_max: int) -> dict[str, dict[str, Any]]:
    """Return the OpenAPI path items of the two SSE endpoints."""
    start = {
        "operationId": "agent_stream_create",
        "summary": "Send a message, start a run and stream its events",
        "description": (
            "Stores the user's message and a run, then streams the run's events. "
            "With the same `Idempotency-Key` and body within 24 h, joins the same run instead."
        ),
        "tags": ["agent"],
        "security": security,
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": f"1..{idempotency_key_max} characters, not all blank. The same key and body from "
                "the same user within 24 h joins the same run; another body answers 422.",
                "schema": {"type": "string", "minLength": 1, "maxLength": idempotency_key_max, "pattern": NOT_BLANK},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format("AgentStreamRequest")}}},
        },
        "responses": {
            "200": _stream_response(),
            **{str(status): _error_response(status, codes) for status, codes in AGENT_STREAM_ERRORS.items()},
        },
    }
    last_event_id = {"type": "integer", "minimum": 0, "maximum": LAST_EVENT_ID_MAX}
    join = {
        "operationId": "agent_runs_stream_retrieve",
        "summary": "Join a run's event stream",
        "description": (
            "Replays the events after `Last-Event-ID` (or `?last_event_id=`; from the start when neither), "
            "then tails live until the run ends. A finished run replays and closes. A seq past the run's "
            "last event answers 400 `invalid_last_event_id`."
        ),
        "tags": ["agent"],
        "security": security,
        "parameters": [
            RUN_ID_PARAMETER,
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "The seq of the last event received: at most 10 digits.",
                "schema": last_event_id,
            },
            {
                "name": "last_event_id",
                "in": "query",
                "required": False,
                "description": "The same as the header, for clients that cannot set it; the header wins.",
                "schema": last_event_id,
            },
        ],
        "responses": {
            "200": _stream_response(),
            **{str(status): _error_response(status, codes) for status, codes in RUN_STREAM_ERRORS.items()},
        },
    }
    feed = {
        "operationId": "sessions_stream_retrieve",
        "summary": "Follow every run of a session on one connection",
        "description": (
            "The events of every run of the session, in order, as SSE frames whose ids are `<run_id>:<seq>` "
            "(the data is a `RunEvent`, as on a run's stream). Without `Last-Event-ID` it starts at the session's "
            "active run (or waits for the next one); with `<run_id>:<seq>` it replays the rest of that run and "
            "every later one, then tails live. It stays open between runs (`: keep-alive`) and ends when the "
            "session is deleted."
        ),
        "tags": ["sessions"],
        "security": security,
        "parameters": [
            {
                "name": "session_id",
                "in": "path",
                "required": True,
                "description": "The session's id (one of yours).",
                "schema": {"type": "string", "format": "uuid"},
            },
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "The id of the last frame received: `<run_id>:<seq>`.",
                "schema": {"type": "string", "pattern": FEED_EVENT_ID_PATTERN},
            },
            {
                "name": "last_event_id",
                "in": "query",
                "required": False,
                "description": "The same as the header, for clients that cannot set it; the header wins.",
                "schema": {"type": "string", "pattern": FEED_EVENT_ID_PATTERN},
            },
        ],
        "responses": {
            "200": {
                "description": "Frames `id: <run_id>:<seq>\ndata: <RunEvent JSON>\n\n`, and `: keep-alive` "
                "comments; the response does not end while the session exists.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **{str(status): _error_response(status, codes) for status, codes in SESSION_FEED_ERRORS.items()},
        },
    }
    return {
        "/api/agent/stream": {"post": start},
        "/api/agent/runs/{run_id}/stream": {"get": join},
        "/api/sessions/{session_id}/stream": {"get": feed},
    }


# A session's runs list gives the ids the run endpoints take (OpenAPI links; clients and
# fuzzers follow them from a session to its runs).
RUN_LINKS = {
    name: {
        "operationId": operation_id,
        "parameters": {"run_id": "$response.body#/results/0/id"},
        "description": f"{action} the page's first (newest) run.",
    }
    for name, operation_id, action in (
        ("Run", "agent_runs_retrieve", "Read"),
        ("RunStream", "agent_runs_stream_retrieve", "Join the stream of"),
        ("RunCancel", "agent_runs_cancel_create", "Cancel"),
    )
}


def add_streaming_endpoints(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Postprocessing hook: add the error shape, the SSE endpoints, the event components and the run links."""
    from django.conf import settings

    # Imported here: sessions imports this module for its error shape and must not load the engine.
    from agents.engine import context
    from agents.runs import services as run_services
    from agents.runs.conversation_import import HISTORY_MAX_MESSAGES

    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(event_components())
    schemas["ErrorDetail"] = ERROR_DETAIL
    schemas["Error"] = ERROR
    schemas["AgentStreamRequest"] = agent_stream_request(
        max_message_chars=settings.AGENT_MAX_MESSAGE_CHARS,
        context_type_max=run_services.CONTEXT_TYPE_MAX_CHARS,
        entity_id_max=run_services.ENTITY_ID_MAX_CHARS,
        context_types=context.registered_types(),
        history_max=HISTORY_MAX_MESSAGES,
    )
    schemes = components.get("securitySchemes", {})
    # Token first, in the order of the DRF views (and of the server's checks): a fuzzer that reads
    # the first scheme as the one it is given must not think a generated cookie authenticated it.
    security = [{name: []} for name in ("tokenAuth", "cookieAuth") if name in schemes] or [{}]
    paths = result.setdefault("paths", {})
    for path, item in streaming_paths(security, idempotency_key_max=run_services.IDEMPOTENCY_KEY_MAX_CHARS).items():
        paths.setdefault(path, {}).update(item)
    for path, item in protocol_paths(security, _error_response).items():
        paths.setdefault(path, {}).update(item)
    runs_list = paths.get("/api/sessions/{session_id}/runs/", {}).get("get")
    if runs_list is not None:
        runs_list["responses"]["200"]["links"] = RUN_LINKS
    result["paths"] = dict(sorted(paths.items()))
    return result
