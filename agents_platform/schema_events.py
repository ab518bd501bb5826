"""The event stream's OpenAPI components (docs/events.md), generated from the event catalogue.

One component per event type (``agents.events.catalogue``, the definition the
server emits them from), ``RunEvent`` (one of them), and the frame and body
schemas of ``text/event-stream``.
"""

from typing import Any

from agents.events import exports
from agents_platform.schema import SCHEMA_REF, json_enum, json_object, json_string

EVENT_BASE = json_object(
    {
        "type": json_string("The event type; clients ignore types they do not know."),
        "run_id": json_string(format="uuid"),
        "session_id": json_string(format="uuid"),
        "seq": {"type": "integer", "minimum": 1, "description": "1, 2, 3, … within the run, no gaps; the SSE id."},
        "ts": json_string("When it happened (UTC).", format="date-time"),
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
            "id": json_string("The event's `seq`; send the last one back as `Last-Event-ID`.", pattern=SEQ_PATTERN),
            "event": json_enum(
                "message",
                description="Never sent: every frame has SSE's default type; the event's own `type` is in `data`.",
            ),
            "data": json_string(
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


def stream_response() -> dict[str, Any]:
    """Return the OpenAPI 200 response of a run's event stream (``text/event-stream``)."""
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
