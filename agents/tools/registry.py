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
it either happens entirely or not at all. (How the signature becomes a schema:
``agents.tools.function_schema``; how a call runs: ``agents.tools.calls``.)

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

import threading
from collections.abc import Callable
from typing import Any

from .arguments import MAX_ARGUMENTS_CHARS, InvalidArguments
from .base import READ, READ_ONLY, READ_WRITE, WRITE, Tool, ToolContext, ToolError, ToolOutcome
from .calls import run_call
from .function_schema import build_tool

__all__ = [
    "MAX_ARGUMENTS_CHARS",
    "READ",
    "READ_ONLY",
    "READ_WRITE",
    "WRITE",
    "InvalidArguments",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "ToolRegistry",
    "default_registry",
    "dispatch",
    "get",
    "is_write_tool",
    "schemas",
    "tool",
    "unregister",
]


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
        return self.add(build_tool(function, kind=kind, name=name))

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
        spec = self._tools.get(name) if isinstance(name, str) else None
        return run_call(ctx, spec, name, arguments)


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
