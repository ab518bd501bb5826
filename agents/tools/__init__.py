"""Tools the agents may call: the registry and the built-in tools.

Importing this package registers the built-ins (docs/architecture.md#tools). A
project adds its own tools with ``@tool(kind="read"|"write")``; see
``agents.tools.registry`` for how.
"""

from . import builtin  # noqa: F401  (registers the built-in tools)
from .registry import (
    ToolContext,
    ToolError,
    ToolOutcome,
    ToolRegistry,
    default_registry,
    dispatch,
    is_write_tool,
    schemas,
    tool,
)

__all__ = [
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "ToolRegistry",
    "default_registry",
    "dispatch",
    "is_write_tool",
    "schemas",
    "tool",
]
