"""Checks of our own for Schemathesis, loaded by its run (``SCHEMATHESIS_HOOKS=<this file>``).

Schemathesis validates each SSE frame against ``RunEventFrame`` (``id``,
``event``, ``data``), but OpenAPI 3.0 cannot tell it that ``data`` holds a
``RunEvent``: the schema says so in an extension (``x-contentSchema``). The
first check reads that extension and validates every event's JSON, so the
event union of the schema is tested against what the server really emits.
The other two narrow the widened acceptance rules (see schemathesis.toml).
"""

import json
import re
from functools import cache
from typing import Any

import jsonschema
import schemathesis
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

FRAME = re.compile(r"id: (?P<id>[^\n]*)\ndata: (?P<data>[^\n]*)")
CANONICAL_SEQ = re.compile(r"0|[1-9][0-9]{0,9}")
SCHEMA_URI = "urn:agents-platform:openapi"


def _as_json_schema(node: Any) -> Any:
    """Return an OpenAPI 3.0 schema as JSON Schema: ``nullable: true`` becomes a null alternative."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _event_validator(raw_schema_json: str) -> jsonschema.Draft202012Validator:
    document = _as_json_schema(json.loads(raw_schema_json))
    frame = document["components"]["schemas"]["RunEventFrame"]
    reference = frame["properties"]["data"]["x-contentSchema"]["$ref"]  # "#/components/schemas/RunEvent"
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource(SCHEMA_URI, resource)
    return jsonschema.Draft202012Validator({"$ref": SCHEMA_URI + reference}, registry=registry)


def _frames(response) -> list[tuple[str, str]]:
    blocks = response.content.decode("utf-8").split("\n\n")
    # The text after the last blank line is an unfinished frame (empty when the body ended cleanly).
    complete = blocks[:-1]
    return [(match["id"], match["data"]) for block in complete if (match := FRAME.fullmatch(block))]


@schemathesis.check
def sse_events_conform(ctx, response, case) -> None:
    """Every event of a stream is a RunEvent of the schema, its ``id`` is its seq, seqs have no gaps."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code != 200 or not content_type.startswith("text/event-stream"):
        return
    validator = _event_validator(json.dumps(case.operation.schema.raw_schema))
    previous = None
    for frame_id, data in _frames(response):
        event = json.loads(data)
        error = best_match(validator.iter_errors(event))
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path)
            raise AssertionError(f"Event {data[:300]} violates RunEvent at /{where}: {error.message[:300]}")
        if frame_id != str(event["seq"]):
            raise AssertionError(f"Frame id {frame_id!r} is not the event's seq {event['seq']}")
        if previous is not None and event["seq"] != previous + 1:
            raise AssertionError(f"Seq {event['seq']} follows {previous}: a gap")
        previous = event["seq"]


@schemathesis.check
def join_refuses_valid_last_event_id_only_past_the_end(ctx, response, case) -> None:
    """A well-formed Last-Event-ID (as the schema allows) is refused only when it is past the run's last event."""
    if case.operation.label != "GET /api/agent/runs/{run_id}/stream" or response.status_code != 400:
        return
    request = response.request
    value = request.headers.get("Last-Event-ID")
    if value is None:
        match = re.search(r"[?&]last_event_id=([^&]*)", request.url)
        value = match[1] if match else None
    if value is None or not CANONICAL_SEQ.fullmatch(value):
        return
    fields = json.loads(response.content)["error"]["fields"]
    if fields.get("Last-Event-ID", fields.get("last_event_id")) != ["Beyond the run's last event."]:
        raise AssertionError(f"Last-Event-ID {value} (valid in the schema) refused: {response.content[:300]!r}")


@schemathesis.check
def stream_refuses_a_valid_body_only_for_what_the_data_decides(ctx, response, case) -> None:
    """A schema-valid message is refused with 400 only for what the server's data decides.

    A context provider refused its entity_id, or it imports a conversation
    history into a session that exists (the schema cannot say "only when
    session_id is null": a session id the fuzzer drew may be real).
    """
    if case.operation.label != "POST /api/agent/stream" or response.status_code != 400:
        return
    if case.meta is None or case.meta.generation.mode.is_negative:
        return
    error = json.loads(response.content)["error"]
    body = json.loads(response.request.body or b"{}")
    if error["code"] == "unknown_context_type" and "entity_id" in error.get("fields", {}):
        return
    if error["code"] == "invalid_conversation_history" and isinstance(body, dict) and body.get("session_id"):
        return
    raise AssertionError(f"A valid body was refused: {response.content[:300]!r}")
