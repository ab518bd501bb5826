"""The model's arguments to a tool: read its JSON text, check it with the tool's pydantic model, name each problem.

The messages are what the model reads to correct its call, so they speak
JSON (``an integer``, ``got null``) and name every problem at once: unknown
arguments first, then missing ones, then each bad value in parameter order.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..storable import load_json

# What the model may send as one call's arguments; far above any honest call.
MAX_ARGUMENTS_CHARS = 64_000

_JSON_TYPE_NAMES = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}
# pydantic's strict type errors, and what the value should have been.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "list_type": "an array",
}


class InvalidArguments(Exception):
    """The model's arguments do not match the tool's schema."""


def shorten(text: str, limit: int = 64) -> str:
    """Return the text, cut to ``limit`` characters with an ellipsis when longer."""
    text = str(text)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def json_type_name(value: Any) -> str:
    """Return the JSON name of a value's type (``integer``, ``array``...)."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key '{shorten(key)}'")
        result[key] = value
    return result


def load_json_object(arguments: str) -> dict[str, Any]:
    """Return the JSON object of the model's arguments; InvalidArguments if the text is not one."""
    if not isinstance(arguments, str):
        raise InvalidArguments("Arguments must be JSON text.")
    if len(arguments) > MAX_ARGUMENTS_CHARS:
        raise InvalidArguments(f"Arguments are longer than {MAX_ARGUMENTS_CHARS} characters.")
    if not arguments.strip():
        # Models send "" for a call without arguments.
        return {}
    try:
        values = load_json(arguments, object_pairs_hook=_object_without_duplicates)
    except (ValueError, RecursionError) as exc:
        raise InvalidArguments(f"Arguments are not valid JSON: {shorten(str(exc), 200)}.") from None
    if not isinstance(values, dict):
        raise InvalidArguments(f"Arguments must be a JSON object, got {json_type_name(values)}.")
    return values


def validate_arguments(model: type[BaseModel], values: dict[str, Any], *, always_passed: frozenset[str]) -> dict:
    """Return the keyword arguments of a call checked by the tool's model; InvalidArguments naming every problem.

    An argument the model left out is not passed, so the function's own default
    applies, except those in ``always_passed`` (``T | None`` without a default),
    which are passed as None.
    """
    try:
        checked = model.model_validate(values)
    except ValidationError as exc:
        raise InvalidArguments(_describe(model, exc.errors(include_url=False))) from None
    kwargs = {}
    for field_name, field in model.model_fields.items():
        if field_name in checked.model_fields_set or field.alias in always_passed:
            kwargs[field.alias] = getattr(checked, field_name)
    return kwargs


def _describe(model: type[BaseModel], errors: list[ErrorDetails]) -> str:
    unknown = [str(error["loc"][0]) for error in errors if error["type"] == "extra_forbidden"]
    missing = [str(error["loc"][0]) for error in errors if error["type"] == "missing"]
    problems: list[str] = []
    if unknown:
        accepted = ", ".join(field.alias for field in model.model_fields.values()) or "no arguments"
        listed = ", ".join(f"'{shorten(key)}'" for key in unknown[:5])
        problems.append(f"Unknown argument{'s' if len(unknown) > 1 else ''} {listed}; this tool takes: {accepted}.")
    if missing:
        listed = ", ".join(f"'{name}'" for name in missing)
        problems.append(f"Missing required argument{'s' if len(missing) > 1 else ''} {listed}.")
    problems.extend(_describe_value(error) for error in errors if error["type"] not in ("extra_forbidden", "missing"))
    return " ".join(problems)


def _describe_value(error: ErrorDetails) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else str(part) for part in error["loc"])
    kind, value = error["type"], error["input"]
    if kind == "float_type" and isinstance(value, int) and not isinstance(value, bool):
        return f"Argument '{where}' is too large."  # an integer no float can hold
    if kind in _EXPECTED:
        return f"Argument '{where}' must be {_EXPECTED[kind]}, got {json_type_name(value)}."
    if kind == "finite_number":
        return f"Argument '{where}' must be a finite number."
    if kind == "literal_error":
        return f"Argument '{where}' must be one of {error['ctx']['choices']}, got {shorten(json.dumps(value))}."
    return f"Argument '{where}': {error['msg']}."
