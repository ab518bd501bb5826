"""The event catalogue as others read it: OpenAPI components and the chat UI's module.

``schemas()`` turns the catalogue's classes into the OpenAPI components of the
stream (``agents_platform/schema.py`` adds them to the document);
``js_module()`` writes the names and fields the chat UI reads into
``static/chat/js/events.js`` (``manage.py write_event_module``; a test fails
when the checked-in file differs).
"""

from __future__ import annotations

import copy
from typing import Any

from agents.events.catalogue import EVENTS, Event, EventTypeName

# --- OpenAPI components -------------------------------------------------------


def _openapi(node: Any, defs: dict[str, Any]) -> Any:
    """Rewrite pydantic's JSON Schema as OpenAPI 3.0: inline ``$ref``, ``null`` as ``nullable``, no titles."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return _openapi({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    node = {key: value for key, value in node.items() if key not in ("title", "default", "$defs")}
    nullable = False
    options = node.pop("anyOf", None)
    if options is not None:
        concrete = [option for option in options if option != {"type": "null"}]
        nullable = len(concrete) < len(options)
        if len(concrete) == 1:
            node = {**concrete[0], **node}
        else:
            node["anyOf"] = concrete
        if "$ref" in node:
            return {**_openapi(node, defs), **({"nullable": True} if nullable else {})}
    if "const" in node:
        node["enum"] = [node.pop("const")]
        node.setdefault("type", "string")
    if node.get("additionalProperties") is True:
        node.pop("additionalProperties")
    if not set(node) - {"description"}:
        node.setdefault("description", "Any JSON value.")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _openapi(schema, defs) for name, schema in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _openapi(value, defs)
        elif key == "anyOf":
            out[key] = [_openapi(option, defs) for option in value]
        else:
            out[key] = value
    if nullable:
        out["nullable"] = True
    return out


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """Return the OpenAPI 3.0 schema of one event type's own fields (with its ``type``)."""
    raw = cls.model_json_schema(mode="serialization")
    own = _openapi(raw, raw.get("$defs", {}))
    own.pop("additionalProperties", None)
    own.pop("description", None)
    properties = {"type": {"type": "string", "enum": [cls.type]}, **own.get("properties", {})}
    required = ["type", *(name for name, field in cls.model_fields.items() if field.is_required())]
    return {"type": "object", "properties": properties, "required": required}


def description(cls: type[Event]) -> str:
    return " ".join((cls.__doc__ or "").split())


def schemas() -> dict[EventTypeName, tuple[str, str, dict[str, Any]]]:
    """Return ``{type: (component name, description, own schema)}`` for every event type."""
    return {name: (cls.__name__, description(cls), copy.deepcopy(event_schema(cls))) for name, cls in EVENTS.items()}


# --- The chat UI's module -----------------------------------------------------

JS_MODULE_PATH = "static/chat/js/events.js"


def js_module(*, active_statuses: list[str], run_statuses: list[str]) -> str:
    """Return the text of the chat UI's event module: every type's name and fields, and the run statuses."""
    names = "".join(f'  {name.upper()}: "{name}",\n' for name in EVENTS)
    fields = "".join(
        f"  {name}: Object.freeze([{', '.join(repr_js(field) for field in cls.model_fields)}]),\n"
        for name, cls in EVENTS.items()
    )
    return (
        "/* The event types of the run stream (docs/events.md) and the fields each carries.\n"
        " *\n"
        " * GENERATED from agents/events/catalogue.py by `python manage.py write_event_module`: do not edit.\n"
        " * A test fails when this file and the catalogue disagree. Besides these fields every event\n"
        " * carries type, run_id, session_id, seq and ts. Clients ignore types they do not know.\n"
        " */\n"
        f"export const EVENT = Object.freeze({{\n{names}}});\n\n"
        "/** The fields of each event type (required and optional). */\n"
        f"export const FIELDS = Object.freeze({{\n{fields}}});\n\n"
        "/** Run statuses while the run can still change (its stream can be joined). */\n"
        f"export const ACTIVE_STATUSES = Object.freeze([{', '.join(repr_js(s) for s in active_statuses)}]);\n\n"
        "/** Every run status. */\n"
        f"export const RUN_STATUSES = Object.freeze([{', '.join(repr_js(s) for s in run_statuses)}]);\n"
    )


def repr_js(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
