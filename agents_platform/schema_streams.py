"""The OpenAPI paths spectacular cannot see: the SSE endpoints, their request body and errors, and the hook.

The stream endpoints are plain async Django views (DRF views are
sync), so ``add_streaming_endpoints`` - a postprocessing hook named in
``SPECTACULAR_SETTINGS`` - writes their paths by hand, with the request body,
the ``text/event-stream`` response, the JSON errors before the stream, and
every event type as a component (``schema_events``).
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings

from agents.engine import context
from agents.runs import services as run_services
from agents.runs.conversation_import import HISTORY_MAX_MESSAGES
from agents_platform.schema import (
    CSRF_FAILED,
    ERROR,
    ERROR_DETAIL,
    NO_NUL,
    NOT_AUTHENTICATED,
    NOT_BLANK,
    SCHEMA_REF,
    WHITESPACE,
    error_response_schema,
    json_enum,
    json_object,
    json_string,
    trimmed_text_pattern,
)
from agents_platform.schema_events import event_components, stream_response
from agents_platform.schema_protocols import protocol_paths

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
    turn = json_object(
        {
            "role": json_enum("user", "assistant"),
            "content": json_string(
                f"1..{max_message_chars} characters after trimming; no NUL.",
                pattern=trimmed_text_pattern(max_message_chars),
            ),
        },
        description="An earlier turn of the conversation. Other fields are ignored.",
    )
    return json_object(
        {
            "message": json_string(
                f"1..{max_message_chars} (`AGENT_MAX_MESSAGE_CHARS`) characters after trimming; no NUL.",
                pattern=trimmed_text_pattern(max_message_chars),
            ),
            "session_id": json_string("Continue this session (yours); null starts one.", format="uuid", nullable=True),
            "context_type": json_string(
                "What the chat is about (`general` when absent or blank): `general` or the type of a registered "
                "context provider, whose text reaches the planner. Read when a session starts; any other type "
                "answers 400 `unknown_context_type`.",
                nullable=True,
                maxLength=context_type_max,
                pattern=context_type_pattern(context_types),
            ),
            "entity_id": json_string(
                "Id of that thing (none when blank); no NUL. The context provider may refuse it "
                "(400 `unknown_context_type`: not one the user may see).",
                nullable=True,
                maxLength=entity_id_max,
                pattern=NO_NUL,
            ),
            "multitask": json_string(
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


# The error codes of the two stream endpoints, by status (agents/http/streams.py, agents/runs/services/start.py).
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
            "200": stream_response(),
            **{str(status): error_response_schema(status, codes) for status, codes in AGENT_STREAM_ERRORS.items()},
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
            "200": stream_response(),
            **{str(status): error_response_schema(status, codes) for status, codes in RUN_STREAM_ERRORS.items()},
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
            **{str(status): error_response_schema(status, codes) for status, codes in SESSION_FEED_ERRORS.items()},
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
    for path, item in protocol_paths(security, error_response_schema).items():
        paths.setdefault(path, {}).update(item)
    runs_list = paths.get("/api/sessions/{session_id}/runs/", {}).get("get")
    if runs_list is not None:
        runs_list["responses"]["200"]["links"] = RUN_LINKS
    result["paths"] = dict(sorted(paths.items()))
    return result
