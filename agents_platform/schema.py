"""OpenAPI extras: the error shape, and the streaming endpoints spectacular cannot see.

drf-spectacular describes DRF views by itself. The two SSE endpoints are plain
async Django views (STYLE.md: DRF views are sync), so ``add_streaming_endpoints``
- a postprocessing hook named in ``SPECTACULAR_SETTINGS`` - writes their
paths by hand, with the request body, the ``text/event-stream`` response, the
JSON errors before the stream, and every event type of CONTRACT.md section 4
as a component. Keep it in step with the contract, not with the code: it is
the contract a client reads.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `session_not_found`.")
    message = serializers.CharField(help_text="What went wrong, in plain words.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text="Problems per request field."
    )
    run_id = serializers.UUIDField(required=False, help_text="409 only: the session's active run, to rejoin.")
    retry_after = serializers.IntegerField(required=False, help_text="429 only: seconds to wait (as Retry-After).")


class ErrorSerializer(serializers.Serializer):
    """The JSON body of every error answered before a stream starts."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "Invalid request: `error.code` names the problem, `error.fields` the fields.",
    401: "Not authenticated.",
    403: "CSRF check failed: a cookie-authenticated unsafe request without a valid `X-CSRFToken`.",
    404: "Not found: unknown, malformed, or another user's id (never 403).",
    409: "The session already has an active run; `error.run_id` is it.",
    422: "The Idempotency-Key was already used with another body.",
    429: "Over the request rate (`rate_limited`), the token budget (`token_budget_exceeded`) or the daily dollar "
    "budget (`cost_budget_exceeded`, Retry-After to midnight UTC); see Retry-After.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Return ``extend_schema`` responses of the error shape for the given statuses."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in statuses}


# --- The event stream (CONTRACT.md section 4) ---------------------------------

SCHEMA_REF = "#/components/schemas/{}"
USAGE = {
    "type": "object",
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
        "llm_calls": {"type": "integer"},
        "cost_usd": {"type": "number", "description": "US dollars of the LLM calls."},
        "cost_known": {
            "type": "boolean",
            "description": "False when some call's model had no known price (counted as 0).",
        },
    },
}
ANY_VALUE: dict[str, Any] = {"description": "Any JSON value."}


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    schema["required"] = required if required is not None else list(properties)
    return schema


def _string(description: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def _enum(*values: str, description: str = "") -> dict[str, Any]:
    return _string(description, enum=list(values))


# type -> (component name, description, its extra fields, which of them are required)
EVENT_TYPES: dict[str, tuple[str, str, dict[str, Any], list[str] | None]] = {
    "session": (
        "SessionEvent",
        "First event of every run: the session it belongs to.",
        {
            "session": _obj(
                {
                    "id": _string(format="uuid"),
                    "title": _string(),
                    "context_type": _string(),
                    "entity_id": _string(nullable=True),
                    "created_at": _string(format="date-time"),
                }
            )
        },
        None,
    ),
    "analysis": (
        "AnalysisEvent",
        "The planner's route is known.",
        {"strategy": _enum("simple", "tool", "complex"), "reason": _string("Why this route.")},
        None,
    ),
    "plan_created": (
        "PlanCreatedEvent",
        "Complex route: the plan is stored.",
        {
            "plan": _obj(
                {
                    "id": _string(format="uuid"),
                    "objective": _string(),
                    "steps": {
                        "type": "array",
                        "items": _obj(
                            {
                                "id": _string("The step's id within the plan."),
                                "title": _string(),
                                "instructions": _string(),
                                "depends_on": {"type": "array", "items": _string()},
                                "status": _string(),
                            }
                        ),
                    },
                }
            )
        },
        None,
    ),
    "step_start": (
        "StepStartEvent",
        "A step begins.",
        {"step": _obj({"id": _string(), "title": _string()})},
        None,
    ),
    "executor_spawned": (
        "ExecutorSpawnedEvent",
        "An executor agent is created for a step.",
        {
            "executor_id": _string(),
            "step_id": _string(),
            "task": _obj({"title": _string(), "instructions": _string()}),
        },
        None,
    ),
    "text": (
        "TextEvent",
        "A piece of the answer the user will read.",
        {"delta": _string(), "agent_id": _string()},
        ["delta"],
    ),
    "tool_call": (
        "ToolCallEvent",
        "A tool is about to run.",
        {
            "call_id": _string(),
            "tool": _string(),
            "arguments": {"description": "The arguments as the model sent them."},
            "agent_id": _string(),
            "agent_kind": _enum("planner", "executor"),
        },
        None,
    ),
    "tool_result": (
        "ToolResultEvent",
        "A tool finished or was refused (`ok: false`, e.g. `error.code: tool_not_allowed`).",
        {
            "call_id": _string(),
            "tool": _string(),
            "ok": {"type": "boolean"},
            "result": ANY_VALUE,
            "error": _obj({"code": _string(), "message": _string()}),
            "duration_ms": {"type": "integer"},
            "agent_id": _string(),
        },
        ["call_id", "tool", "ok", "duration_ms", "agent_id"],
    ),
    "executor_result": (
        "ExecutorResultEvent",
        "An executor finished.",
        {
            "executor_id": _string(),
            "step_id": _string(),
            "status": _enum("completed", "failed", "cancelled"),
            "result": ANY_VALUE,
            "usage": USAGE,
            "duration_ms": {"type": "integer", "nullable": True, "description": "The executor's wall time."},
        },
        None,
    ),
    "budget_warning": (
        "BudgetWarningEvent",
        "80 % of a dollar limit is used (once per run and scope).",
        {
            "scope": _enum("run", "user_daily", description="AGENT_RUN_MAX_COST or AGENT_COST_BUDGET_DAILY."),
            "used_usd": {"type": "number"},
            "limit_usd": {"type": "number"},
        },
        None,
    ),
    "step_complete": (
        "StepCompleteEvent",
        "A step finished.",
        {
            "step": _obj(
                {
                    "id": _string(),
                    "status": _enum("completed", "failed", "skipped", "cancelled"),
                    "result": ANY_VALUE,
                }
            )
        },
        None,
    ),
    "error": (
        "ErrorEvent",
        "Something went wrong; `fatal: true` ends the run.",
        {"code": _string(), "message": _string(), "fatal": {"type": "boolean"}},
        None,
    ),
    "done": (
        "DoneEvent",
        "Always the last event, exactly once per run.",
        {
            "status": _enum("completed", "failed", "cancelled", "interrupted"),
            "message_id": _string("The stored answer, if any.", format="uuid", nullable=True),
            "usage": USAGE,
            "duration_ms": {"type": "integer", "nullable": True},
        },
        None,
    ),
}

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
    "Server-Sent Events. Every frame is `id: <seq>` and one `data:` line holding one JSON event "
    "(the `RunEvent` schema), then a blank line; `: keep-alive` comments come at least every 20 s. "
    "`done` is always the last event. After the first byte the status is 200: failures arrive as "
    "`error` events. The run goes on when the client disconnects; rejoin with "
    "`GET /api/agent/runs/{run_id}/stream` and `Last-Event-ID`."
)
STREAM_EXAMPLE = (
    'id: 1\ndata: {"type": "session", "run_id": "…", "session_id": "…", "seq": 1, "ts": "…", "session": {…}}\n\n'
    'id: 2\ndata: {"type": "analysis", "strategy": "complex", "reason": "…", …}\n\n'
)


def event_components() -> dict[str, dict[str, Any]]:
    """Return the component schemas of the event stream: one per type, and ``RunEvent`` (one of them)."""
    components: dict[str, dict[str, Any]] = {"RunEventBase": EVENT_BASE}
    mapping: dict[str, str] = {}
    for event_type, (name, description, fields, required) in EVENT_TYPES.items():
        own = _obj({"type": _enum(event_type), **fields}, ["type", *(required if required is not None else fields)])
        components[name] = {"description": description, "allOf": [{"$ref": SCHEMA_REF.format("RunEventBase")}, own]}
        mapping[event_type] = SCHEMA_REF.format(name)
    components["RunEvent"] = {
        "description": "One event of a run's stream (CONTRACT.md section 4); the server may add types.",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    return components


def _stream_response() -> dict[str, Any]:
    return {
        "description": STREAM_DESCRIPTION,
        "headers": {
            "Cache-Control": {"schema": {"type": "string", "example": "no-cache"}},
            "X-Accel-Buffering": {"schema": {"type": "string", "example": "no"}},
        },
        "content": {
            "text/event-stream": {"schema": {"$ref": SCHEMA_REF.format("RunEvent")}, "example": STREAM_EXAMPLE}
        },
    }


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format("Error")}}},
    }
    if status == 429:
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

AGENT_STREAM_REQUEST = _obj(
    {
        "message": _string("1..AGENT_MAX_MESSAGE_CHARS characters after trimming.", minLength=1),
        "session_id": _string("Continue this session (yours); null starts one.", format="uuid", nullable=True),
        "context_type": _string("What the chat is about (`general` when absent).", nullable=True, maxLength=64),
        "entity_id": _string("Id of that thing.", nullable=True, maxLength=255),
    },
    ["message"],
    description="Any other field is ignored.",
)


def streaming_paths(security: list[dict[str, list]]) -> dict[str, dict[str, Any]]:
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
                "description": "Same key and body from the same user within 24 h joins the same run; "
                "another body answers 422.",
                "schema": {"type": "string", "maxLength": 255},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format("AgentStreamRequest")}}},
        },
        "responses": {
            "200": _stream_response(),
            **{str(status): _error_response(status) for status in (400, 401, 403, 404, 409, 422, 429)},
        },
    }
    join = {
        "operationId": "agent_runs_stream_retrieve",
        "summary": "Join a run's event stream",
        "description": (
            "Replays the events after `Last-Event-ID` (or `?last_event_id=`; from the start when neither), "
            "then tails live until the run ends. A finished run replays and closes."
        ),
        "tags": ["agent"],
        "security": security,
        "parameters": [
            RUN_ID_PARAMETER,
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": "The seq of the last event received.",
                "schema": {"type": "integer", "minimum": 0},
            },
            {
                "name": "last_event_id",
                "in": "query",
                "required": False,
                "description": "The same as the header, for clients that cannot set it.",
                "schema": {"type": "integer", "minimum": 0},
            },
        ],
        "responses": {
            "200": _stream_response(),
            **{str(status): _error_response(status) for status in (400, 401, 403, 404)},
        },
    }
    return {"/api/agent/stream": {"post": start}, "/api/agent/runs/{run_id}/stream": {"get": join}}


def add_streaming_endpoints(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Postprocessing hook: add the SSE endpoints and the event components to the schema."""
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(event_components())
    schemas["AgentStreamRequest"] = AGENT_STREAM_REQUEST
    schemes = components.get("securitySchemes", {})
    security = [{name: []} for name in ("cookieAuth", "tokenAuth") if name in schemes] or [{}]
    paths = result.setdefault("paths", {})
    for path, item in streaming_paths(security).items():
        paths.setdefault(path, {}).update(item)
    result["paths"] = dict(sorted(paths.items()))
    return result
