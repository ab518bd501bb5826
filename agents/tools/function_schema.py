"""Build a ``Tool`` from a function: a pydantic model of its parameters, described by its docstring.

As openai-agents' ``function_schema.py`` does, the signature becomes a model
(``pydantic.create_model``) that both checks the model's arguments and writes
the JSON schema it is offered; ``docstring-parser`` reads the description and
the Google-style ``Args:``. The hints are limited to what a model fills in
well (``str``, ``int``, ``float``, ``bool``, ``Literal[...]`` of those,
``list[T]`` and ``T | None``), and every argument is checked strictly, as JSON
would type it: ``"5"`` is no integer and ``true`` is no 1.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union

import docstring_parser
from pydantic import BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from .base import READ, WRITE, Tool

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
# extra="forbid": an unknown argument is an error the model is told about, not a value silently dropped.
_CONFIG = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_default=True)
# The order the schema's keys have always had, so the model is sent the same text.
_KEY_ORDER = ("description", "type", "properties", "items", "enum", "default", "required", "additionalProperties")


def build_tool(function: Callable[..., Any], *, kind: str, name: str | None) -> Tool:
    """Return the Tool for a function, or raise TypeError/ValueError saying what is wrong with it."""
    if kind not in (READ, WRITE):
        raise ValueError(f"tool kind must be 'read' or 'write', not {kind!r}")
    if not callable(function) or inspect.iscoroutinefunction(function):
        raise TypeError("a tool must be a plain (sync) function")
    name = name or function.__name__
    if not _NAME_PATTERN.match(name):
        raise ValueError(f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'")
    description, arg_descriptions = _read_docstring(function.__doc__, name)
    if not description:
        raise TypeError(f"tool {name!r} needs a docstring: its first paragraph is what the model reads")
    try:
        hints = typing.get_type_hints(function)
    except NameError as exc:
        raise TypeError(f"tool {name!r}: cannot resolve a type hint ({exc})") from exc

    params = list(inspect.signature(function).parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise TypeError(f"tool {name!r}: the first parameter must be the ToolContext")
    fields: dict[str, Any] = {}
    always_passed = set()
    for index, param in enumerate(params[1:]):
        where = f"tool {name!r}, parameter {param.name!r}"
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise TypeError(f"{where}: *args, **kwargs and positional-only parameters are not supported")
        if param.name not in hints:
            raise TypeError(f"{where}: needs a type hint")
        hint = hints[param.name]
        # `T | None` without a default is optional too: left out, the function gets None.
        none_if_left_out = param.default is param.empty and typing.get_origin(hint) in (Union, types.UnionType)
        if none_if_left_out:
            always_passed.add(param.name)
        default = None if none_if_left_out else param.default
        # The parameter's name is the alias: any name works, even one a pydantic model keeps for itself.
        fields[f"arg_{index}"] = (
            _field_type(hint, where),
            Field(
                ... if default is param.empty else default,
                alias=param.name,
                description=arg_descriptions.get(param.name) or None,
            ),
        )
    arguments = create_model(f"{name}_arguments", __config__=_CONFIG, **fields)
    _check_defaults(arguments, name)
    return Tool(
        name=name,
        kind=kind,
        function=function,
        description=description,
        arguments=arguments,
        parameters=arguments.model_json_schema(schema_generator=ToolJsonSchema),
        always_passed=frozenset(always_passed),
    )


def _read_docstring(doc: str | None, name: str) -> tuple[str, dict[str, str]]:
    """Return a docstring's first paragraph and the descriptions of its Google-style ``Args:``, each on one line."""
    try:
        parsed = docstring_parser.parse(doc or "", style=docstring_parser.DocstringStyle.GOOGLE)
    except docstring_parser.ParseError as exc:
        raise TypeError(f"tool {name!r}: its docstring cannot be read as Google style ({exc})") from None
    first_paragraph = re.split(r"\n\s*\n", parsed.description or "")[0]
    arguments = {
        param.arg_name.lstrip("*"): _one_line(param.description) for param in parsed.params if param.args[0] == "param"
    }
    return _one_line(first_paragraph), arguments


def _one_line(text: str | None) -> str:
    return " ".join(line.strip() for line in (text or "").splitlines() if line.strip())


def _field_type(hint: Any, where: str) -> Any:
    """Return the hint as the argument model's field type; TypeError if the hint is not supported."""
    origin = typing.get_origin(hint)
    if hint in _SCALARS:
        return hint
    if origin is Literal:
        choices = typing.get_args(hint)
        if not choices or not {type(choice) for choice in choices} <= set(_SCALARS):
            raise TypeError(f"{where}: Literal values must be str, int, float or bool")
        return Annotated[hint, BeforeValidator(_one_of(choices))]
    if origin is list:
        args = typing.get_args(hint)
        if len(args) != 1:
            raise TypeError(f"{where}: a list needs its item type, e.g. list[str]")
        return list[_field_type(args[0], where)]
    if origin in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) != 1 or len(typing.get_args(hint)) != 2:
            raise TypeError(f"{where}: the only supported union is `T | None`")
        return _field_type(members[0], where) | None
    raise TypeError(f"{where}: unsupported type {hint!r} (use str, int, float, bool, Literal, list[T] or T | None)")


def _one_of(choices: tuple[Any, ...]) -> Callable[[Any], Any]:
    """Return a check that a value is one of the choices and of the same JSON type (pydantic takes 1.0 for 1)."""
    listed = ", ".join(json.dumps(choice) for choice in choices)

    def check(value: Any) -> Any:
        # Compare types too: True == 1 in Python, not in JSON.
        if any(type(value) is type(choice) and value == choice for choice in choices):
            return value
        raise PydanticCustomError("literal_error", "Input should be one of {choices}", {"choices": listed})

    return check


def _check_defaults(arguments: type[Any], name: str) -> None:
    """Raise TypeError if a parameter's default does not match its own type hint."""
    try:
        arguments.model_validate({})
    except ValidationError as exc:
        wrong = next((error for error in exc.errors() if error["type"] != "missing"), None)
        if wrong is not None:
            # pydantic names a default's error by the field's own name (arg_<n>), not by its alias.
            field = arguments.model_fields[wrong["loc"][0]]
            raise TypeError(
                f"tool {name!r}, parameter {field.alias!r}: the default {field.default!r} does not match the type hint"
            ) from None


class ToolJsonSchema(GenerateJsonSchema):
    """Write an argument model's JSON schema as the model has always been sent it.

    ``T | None`` is ``"type": [T, "null"]`` rather than ``anyOf``, a Literal is
    ``type`` and ``enum`` (one value too, not ``const``), titles are left out,
    a None default is not written, ``required`` is always there, and the keys
    keep one order.
    """

    def field_title_should_be_set(self, schema: Any) -> bool:
        """Leave out the titles pydantic makes from field names: the names say it already."""
        return False

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        """Return the object schema of the arguments, without a title, listing its required names even when none."""
        json_schema = super().model_schema(schema)
        json_schema.pop("title", None)
        json_schema.setdefault("required", [])
        return json_schema

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        """Return the type(s) and the enum of a Literal."""
        choices = list(schema["expected"])
        kinds = [json_type for kind, json_type in _SCALARS.items() if any(type(c) is kind for c in choices)]
        return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": choices}

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        """Return the inner schema with null added to its type (and to its enum)."""
        json_schema = dict(self.generate_inner(schema["schema"]))
        if "enum" in json_schema:
            json_schema["enum"] = [*json_schema["enum"], None]
        kinds = json_schema["type"] if isinstance(json_schema["type"], list) else [json_schema["type"]]
        json_schema["type"] = [*kinds, "null"]
        return json_schema

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        """Return the schema with its default, unless that is None (null says it already)."""
        if schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def sort(self, value: JsonSchemaValue, parent_key: str | None = None) -> JsonSchemaValue:
        """Return the schema with its keys in ``_KEY_ORDER`` (property names and defaults as they are)."""
        if isinstance(value, list):
            return [self.sort(item, parent_key) for item in value]
        if not isinstance(value, dict):
            return value
        keys = list(value)
        if parent_key not in ("properties", "default"):
            keys.sort(key=lambda key: _KEY_ORDER.index(key) if key in _KEY_ORDER else len(_KEY_ORDER))
        return {key: self.sort(value[key], key) for key in keys}
