"""The tool registry: one decorator adds a tool, ``schemas()`` lists what to offer, ``dispatch()`` runs a call.

Adding a tool to a project
--------------------------
Write a function whose first parameter is the ``ToolContext`` and whose other
parameters carry type hints, give it a docstring, and decorate it::

    from typing import Literal

    from agents.tools import ToolContext, ToolError, tool

    @tool(kind="read")
    def order_status(ctx: ToolContext, order_id: str, detail: Literal["short", "full"] = "short") -> dict:
        \"\"\"Look up the status of one of the user's orders.

        Args:
            order_id: The order's number, as the user wrote it.
            detail: How much to tell.
        \"\"\"
        order = Order.objects.filter(user=ctx.user, number=order_id).first()
        if order is None:
            raise ToolError("not_found", "No such order.")
        return {"order_id": order_id, "status": order.status}

The function's name is the tool's name (or pass ``name=``). The docstring's
first paragraph is the tool's description; a Google-style ``Args:`` section
describes each parameter. Supported hints: ``str``, ``int``, ``float``,
``bool``, ``Literal[...]`` of those, ``list[T]`` of any of them, and
``T | None``. A parameter with a default, or typed ``T | None``, is optional;
anything else is required. ``kind="write"`` marks a tool that changes data:
read-only agents (executors) are never offered it, and ``dispatch`` refuses it
to them whatever the model asks. A write tool runs inside one transaction, so
it either happens entirely or not at all.

Import the module once at startup so the decorator runs — from your app's
``AppConfig.ready()``, or next to the built-ins in ``agents/tools/__init__.py``.
Two tools with the same name are an error when the second one is imported.

Inside a tool, act only as ``ctx.user`` and read only that user's rows. Raise
``ToolError(code, message)`` for an expected failure the model should see
(a service's ``DomainError`` is passed on the same way, with its code); any other
exception becomes ``tool_failed`` with a generic message, and the traceback is
logged. Return JSON: a dict, list, str, number, bool or None (datetimes and
UUIDs are turned into strings).
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import math
import re
import threading
import time
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from agents_platform.errors import DomainError

from ..storable import load_json

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from agents.models import Agent, Run
    from sessions.models import ChatSession

logger = logging.getLogger(__name__)

READ = "read"
WRITE = "write"
# Agent.Permission values; kept as strings so this module never imports models.
READ_WRITE = "read_write"
READ_ONLY = "read_only"

# What the model may send as one call's arguments; far above any honest call.
MAX_ARGUMENTS_CHARS = 64_000
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ARGS_HEADERS = {"Args:", "Arguments:", "Parameters:"}
_SECTION_HEADER = re.compile(r"^[A-Z][A-Za-z ]*:$")
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass
class ToolContext:
    """Who is calling a tool: the run's user, the run, its session and the calling agent."""

    user: AbstractBaseUser
    run: Run
    session: ChatSession
    agent: Agent

    @classmethod
    def for_agent(cls, agent: Agent) -> ToolContext:
        """Return the context of an agent's tool calls: its run's user and session."""
        run = agent.run
        return cls(user=run.user, run=run, session=run.session, agent=agent)


@dataclass
class ToolOutcome:
    """What one tool call produced: a JSON result, or an error ``{"code", "message"}``."""

    ok: bool
    result: Any = None
    error: dict | None = None
    duration_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as the model and the ``tool_result`` event see it (without timing)."""
        if self.ok:
            return {"ok": True, "result": self.result}
        return {"ok": False, "error": self.error}


class ToolError(Exception):
    """An expected failure of a tool, shown to the model as ``{"code", "message"}``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidArguments(Exception):
    """The model's arguments do not match the tool's schema."""


# --- Types: one JSON schema and one checker per supported hint ----------------

_JSON_TYPE_NAMES = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}
_SCALAR_SCHEMA = {str: "string", int: "integer", float: "number", bool: "boolean"}

Checker = Callable[[Any, str], Any]


def _json_type_name(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _scalar_checker(python_type: type) -> Checker:
    expected = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}[python_type]

    def check(value: Any, where: str) -> Any:
        # bool is an int in Python but not in JSON; int is accepted for float (JSON has one number type).
        if python_type is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise InvalidArguments(f"Argument '{where}' is too large.") from None
        if type(value) is not python_type:
            raise InvalidArguments(f"Argument '{where}' must be {expected}, got {_json_type_name(value)}.")
        if python_type is float and not math.isfinite(value):
            raise InvalidArguments(f"Argument '{where}' must be a finite number.")
        return value

    return check


def _literal_checker(values: tuple[Any, ...]) -> Checker:
    choices = ", ".join(json.dumps(value) for value in values)

    def check(value: Any, where: str) -> Any:
        # Compare types too: True == 1 in Python, not in JSON.
        if any(type(value) is type(choice) and value == choice for choice in values):
            return value
        raise InvalidArguments(f"Argument '{where}' must be one of {choices}, got {_shorten(json.dumps(value))}.")

    return check


def _list_checker(item_check: Checker) -> Checker:
    def check(value: Any, where: str) -> Any:
        if not isinstance(value, list):
            raise InvalidArguments(f"Argument '{where}' must be an array, got {_json_type_name(value)}.")
        return [item_check(item, f"{where}[{index}]") for index, item in enumerate(value)]

    return check


def _nullable_checker(inner: Checker) -> Checker:
    def check(value: Any, where: str) -> Any:
        return None if value is None else inner(value, where)

    return check


def _compile_type(hint: Any, where: str) -> tuple[dict[str, Any], Checker]:
    """Return the JSON schema of a type hint and a checker of values against it; TypeError if unsupported."""
    origin = typing.get_origin(hint)
    if hint in _SCALAR_SCHEMA:
        return {"type": _SCALAR_SCHEMA[hint]}, _scalar_checker(hint)
    if origin is Literal:
        values = typing.get_args(hint)
        kinds = {type(value) for value in values}
        if not values or not kinds <= set(_SCALAR_SCHEMA):
            raise TypeError(f"{where}: Literal values must be str, int, float or bool")
        schema_type = [_SCALAR_SCHEMA[kind] for kind in _SCALAR_SCHEMA if kind in kinds]
        return {"type": schema_type[0] if len(schema_type) == 1 else schema_type, "enum": list(values)}, (
            _literal_checker(values)
        )
    if origin is list:
        args = typing.get_args(hint)
        if len(args) != 1:
            raise TypeError(f"{where}: a list needs its item type, e.g. list[str]")
        item_schema, item_check = _compile_type(args[0], where)
        return {"type": "array", "items": item_schema}, _list_checker(item_check)
    if origin in (Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) != 1 or len(typing.get_args(hint)) != 2:
            raise TypeError(f"{where}: the only supported union is `T | None`")
        schema, check = _compile_type(members[0], where)
        return _nullable_schema(schema), _nullable_checker(check)
    raise TypeError(f"{where}: unsupported type {hint!r} (use str, int, float, bool, Literal, list[T] or T | None)")


def _nullable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    schema["type"] = [*kinds, "null"]
    return schema


# --- Docstrings --------------------------------------------------------------


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Return a docstring's first paragraph and the descriptions of its Google-style ``Args:``."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION_HEADER.match(line.strip()):
            break
        summary.append(line.strip())

    descriptions: dict[str, str] = {}
    args_indent: int | None = None
    item_indent: int | None = None
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if args_indent is None:
            if stripped in _ARGS_HEADERS:
                args_indent = indent
            continue
        if not stripped:
            continue
        if indent <= args_indent:
            break  # the next section starts
        match = _ARG_LINE.match(stripped)
        if match and (item_indent is None or indent == item_indent):
            item_indent = indent
            current = match.group(1)
            descriptions[current] = match.group(2).strip()
        elif current is not None:
            descriptions[current] = f"{descriptions[current]} {stripped}".strip()
    return " ".join(summary), descriptions


# --- Tools -------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One argument a tool takes, as the model sees it and as it is checked."""

    name: str
    schema: dict[str, Any]
    check: Checker
    required: bool
    # Passed when the model leaves the argument out: the Python default, or None for `T | None`.
    has_default: bool
    default: Any = None


@dataclass(frozen=True)
class Tool:
    """A registered tool: its function, kind, description and parameters."""

    name: str
    kind: str
    function: Callable[..., Any]
    description: str
    parameters: tuple[Parameter, ...] = field(default=())
    # False for a tool that acts outside this database (an MCP server): no transaction is held while it waits.
    transactional: bool = True

    def unavailable(self) -> ToolError | None:
        """Return why the tool cannot be called now (it is then neither offered nor run), or None."""
        return None

    @property
    def schema(self) -> dict[str, Any]:
        """Return the tool in the OpenAI ``tools`` format (a fresh copy each time)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": {param.name: copy.deepcopy(param.schema) for param in self.parameters},
                    "required": [param.name for param in self.parameters if param.required],
                    "additionalProperties": False,
                },
            },
        }

    def parse_arguments(self, arguments: str) -> dict[str, Any]:
        """Return the keyword arguments of a call from the model's raw JSON text; InvalidArguments if they are bad."""
        values = _load_json_object(arguments)
        by_name = {param.name: param for param in self.parameters}
        problems: list[str] = []
        unknown = [key for key in values if key not in by_name]
        if unknown:
            accepted = ", ".join(by_name) or "no arguments"
            listed = ", ".join(f"'{_shorten(key)}'" for key in unknown[:5])
            problems.append(f"Unknown argument{'s' if len(unknown) > 1 else ''} {listed}; this tool takes: {accepted}.")
        missing = [param.name for param in self.parameters if param.required and param.name not in values]
        if missing:
            listed = ", ".join(f"'{name}'" for name in missing)
            problems.append(f"Missing required argument{'s' if len(missing) > 1 else ''} {listed}.")
        kwargs: dict[str, Any] = {}
        for param in self.parameters:
            if param.name in values:
                try:
                    kwargs[param.name] = param.check(values[param.name], param.name)
                except InvalidArguments as exc:
                    problems.append(str(exc))
            elif not param.required and not param.has_default:
                kwargs[param.name] = None
        if problems:
            raise InvalidArguments(" ".join(problems))
        return kwargs


def _shorten(text: str, limit: int = 64) -> str:
    text = str(text)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key '{_shorten(key)}'")
        result[key] = value
    return result


def _load_json_object(arguments: str) -> dict[str, Any]:
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
        raise InvalidArguments(f"Arguments are not valid JSON: {_shorten(str(exc), 200)}.") from None
    if not isinstance(values, dict):
        raise InvalidArguments(f"Arguments must be a JSON object, got {_json_type_name(values)}.")
    return values


def _build_tool(function: Callable[..., Any], *, kind: str, name: str | None) -> Tool:
    """Return the Tool for a function, or raise TypeError/ValueError saying what is wrong with it."""
    if kind not in (READ, WRITE):
        raise ValueError(f"tool kind must be 'read' or 'write', not {kind!r}")
    if not callable(function) or inspect.iscoroutinefunction(function):
        raise TypeError("a tool must be a plain (sync) function")
    name = name or function.__name__
    if not _NAME_PATTERN.match(name):
        raise ValueError(f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'")
    description, arg_descriptions = _parse_docstring(function.__doc__)
    if not description:
        raise TypeError(f"tool {name!r} needs a docstring: its first paragraph is what the model reads")
    try:
        hints = typing.get_type_hints(function)
    except NameError as exc:
        raise TypeError(f"tool {name!r}: cannot resolve a type hint ({exc})") from exc

    signature = inspect.signature(function)
    params = list(signature.parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise TypeError(f"tool {name!r}: the first parameter must be the ToolContext")
    parameters = []
    for param in params[1:]:
        where = f"tool {name!r}, parameter {param.name!r}"
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise TypeError(f"{where}: *args, **kwargs and positional-only parameters are not supported")
        if param.name not in hints:
            raise TypeError(f"{where}: needs a type hint")
        schema, check = _compile_type(hints[param.name], where)
        has_default = param.default is not param.empty
        nullable = isinstance(schema["type"], list) and "null" in schema["type"]
        if has_default:
            try:
                check(param.default, param.name)
            except InvalidArguments:
                raise TypeError(f"{where}: the default {param.default!r} does not match the type hint") from None
            if param.default is not None:
                schema["default"] = param.default
        if arg_descriptions.get(param.name):
            schema = {"description": arg_descriptions[param.name], **schema}
        parameters.append(
            Parameter(
                name=param.name,
                schema=schema,
                check=check,
                required=not (has_default or nullable),
                has_default=has_default,
                default=param.default if has_default else None,
            )
        )
    return Tool(name=name, kind=kind, function=function, description=description, parameters=tuple(parameters))


def _to_json(result: Any) -> Any:
    """Return the result as plain JSON values; TypeError/ValueError if it is not JSON."""
    return json.loads(json.dumps(result, cls=DjangoJSONEncoder, allow_nan=False))


class ToolRegistry:
    """A set of tools by name. The module-level functions use ``default_registry``."""

    def __init__(self) -> None:
        # Copy on write: tools come and go while runs read the registry (MCP servers are listed again), so
        # readers take the current dict without a lock and writers replace it whole.
        self._tools: dict[str, Tool] = {}
        self._write_lock = threading.Lock()

    def tool(self, kind: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Return a decorator that registers a function as a tool and gives the function back unchanged."""
        if callable(kind):
            raise TypeError("use @tool(kind='read') or @tool(kind='write'), not a bare @tool")

        def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
            self.register(function, kind=kind, name=name)
            return function

        return decorate

    def register(self, function: Callable[..., Any], *, kind: str, name: str | None = None) -> Tool:
        """Register a function as a tool; ValueError if the name is taken."""
        return self.add(_build_tool(function, kind=kind, name=name))

    def add(self, spec: Tool, *, replace: bool = False) -> Tool:
        """Register a built tool (MCP tools are built from their server's listing); ValueError if the name is taken."""
        with self._write_lock:
            existing = self._tools.get(spec.name)
            if existing is not None and not replace:
                owner = existing.function
                raise ValueError(
                    f"tool {spec.name!r} is already registered by "
                    f"{getattr(owner, '__module__', '?')}.{getattr(owner, '__qualname__', repr(owner))}"
                )
            self._tools = {**self._tools, spec.name: spec}
        return spec

    def unregister(self, name: str) -> None:
        """Remove a tool (tests clean up with it); KeyError if there is none."""
        with self._write_lock:
            tools = dict(self._tools)
            del tools[name]
            self._tools = tools

    def get(self, name: str) -> Tool | None:
        """Return the tool of that name, or None."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Return the registered tools' names in registration order."""
        return list(self._tools)

    def schemas(self, *, permission: str) -> list[dict[str, Any]]:
        """Return the OpenAI ``tools`` list an agent of that permission may be offered."""
        if permission not in (READ_ONLY, READ_WRITE):
            raise ValueError(f"unknown permission {permission!r}")
        return [
            spec.schema
            for spec in self._tools.values()
            if (permission == READ_WRITE or spec.kind == READ) and spec.unavailable() is None
        ]

    def dispatch(self, ctx: ToolContext, name: str, arguments: str) -> ToolOutcome:
        """Run one tool call of the model as ``ctx.agent``; never raises for anything the model or tool does."""
        started = time.perf_counter()

        def finish(*, result: Any = None, error: dict[str, str] | None = None) -> ToolOutcome:
            elapsed = int((time.perf_counter() - started) * 1000)
            return ToolOutcome(ok=error is None, result=result, error=error, duration_ms=elapsed)

        spec = self._tools.get(name) if isinstance(name, str) else None
        if spec is None:
            return finish(error=_error("unknown_tool", f"There is no tool named '{_shorten(str(name))}'."))
        # The permission is checked here, not only by what was offered: the model may name any tool.
        if spec.kind == WRITE and getattr(ctx.agent, "permission", None) != READ_WRITE:
            return finish(
                error=_error("tool_not_allowed", f"Tool '{name}' changes data; this agent may only use read tools.")
            )
        reason = spec.unavailable()
        if reason is not None:
            return finish(error=_error(reason.code, reason.message))
        try:
            kwargs = spec.parse_arguments(arguments)
        except InvalidArguments as exc:
            return finish(error=_error("invalid_arguments", str(exc)))

        try:
            if spec.kind == WRITE and spec.transactional:
                # All or nothing: a write tool that fails half-way leaves no trace.
                with transaction.atomic():
                    result = spec.function(ctx, **kwargs)
            else:
                result = spec.function(ctx, **kwargs)
        except ToolError as exc:
            return finish(error=_error(exc.code, exc.message))
        except DomainError as exc:
            return finish(error=_error(exc.code, exc.message))
        except Exception:
            logger.exception("Tool %s failed (run %s, agent %s)", name, _pk(ctx, "run"), _pk(ctx, "agent"))
            return finish(error=_error("tool_failed", f"Tool '{name}' failed unexpectedly."))

        try:
            return finish(result=_to_json(result))
        except (TypeError, ValueError):
            logger.exception("Tool %s returned a result that is not JSON", name)
            return finish(error=_error("tool_failed", f"Tool '{name}' returned a result that is not JSON."))


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _pk(ctx: ToolContext, attribute: str) -> Any:
    return getattr(getattr(ctx, attribute, None), "pk", None)


default_registry = ToolRegistry()


def tool(kind: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Return a decorator that registers a function as a tool of the default registry."""
    return default_registry.tool(kind, name)


def schemas(*, permission: str) -> list[dict[str, Any]]:
    """Return the OpenAI ``tools`` list an agent of that permission may be offered."""
    return default_registry.schemas(permission=permission)


def dispatch(ctx: ToolContext, name: str, arguments: str) -> ToolOutcome:
    """Run one tool call of the model as ``ctx.agent``; never raises for anything the model or tool does."""
    return default_registry.dispatch(ctx, name, arguments)


def unregister(name: str) -> None:
    """Remove a tool from the default registry (tests clean up with it)."""
    default_registry.unregister(name)


def get(name: str) -> Tool | None:
    """Return the default registry's tool of that name, or None."""
    return default_registry.get(name)


def is_write_tool(name: str) -> bool:
    """Return whether ``name`` is a registered write tool (unknown names are not)."""
    spec = default_registry.get(name)
    return spec is not None and spec.kind == WRITE
