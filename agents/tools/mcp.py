"""Tools of MCP servers (``AGENT_MCP_SERVERS``), registered next to our own as ``<server>__<tool>``.

Each server's tools are listed when the process starts (``ensure_started``:
the ASGI lifespan, the Celery worker, or the first run a process executes)
and again every ``AGENT_MCP_REFRESH`` seconds, or at once after a call finds
the session broken. A listed tool becomes a registry tool whose parameters
are the server's JSON schema: the model's arguments are validated against it
before the call (``invalid_arguments`` like our own tools), and it is a read
tool only when the operator lists it in the server's ``read_only``; every
other tool is a write tool (approval with ``AGENT_APPROVAL=write``, never
offered to or run by executors). A server's own ``readOnlyHint`` grants
nothing.

Results reach the model as JSON: the tool's structured content when it has
one, else its text (or a list of content blocks; images, audio and binary
resources are described, not inlined). A result longer than
``AGENT_MCP_MAX_RESULT_CHARS`` characters (of its JSON text) is replaced by
``{"truncated": true, "total_chars": N, "content": "<its first characters>"}``.
Failures are ``tool_result`` ``ok: false``: ``mcp_error`` (the tool reported an
error, or the server refused the call), ``mcp_timeout`` (no answer within
``AGENT_MCP_TIMEOUT``), ``mcp_unavailable`` (the server is down: its tools
are then not offered until it answers again). None of them fails the run.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from agents_platform.mcp_config import McpServerConfig, parse_servers

from .arguments import InvalidArguments, load_json_object
from .base import READ, WRITE, Tool, ToolContext, ToolError
from .mcp_bridge import McpBridge, McpCallFailed
from .registry import default_registry

logger = logging.getLogger("agents.tools.mcp")

SEPARATOR = "__"
_INVALID_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
MAX_ERROR_CHARS = 1000


@dataclass
class ServerStatus:
    """Whether a server answers, shared by all its tools (they are offered only while it does)."""

    name: str
    up: bool = False
    tools: tuple[str, ...] = ()


@dataclass(frozen=True)
class McpTool(Tool):
    """A tool of an MCP server: the server's JSON schema is its parameters."""

    server: str = ""
    remote_name: str = ""
    validator: Any = None
    status: ServerStatus | None = None
    transactional: bool = False

    def parse_arguments(self, arguments: str) -> dict[str, Any]:
        """Return the arguments of a call checked against the server's schema; InvalidArguments if they are bad."""
        values = load_json_object(arguments)
        problems = sorted(self.validator.iter_errors(values), key=lambda error: list(error.absolute_path))
        if problems:
            described = [_describe(problem) for problem in problems[:5]]
            raise InvalidArguments(" ".join(described))
        return values

    def unavailable(self) -> ToolError | None:
        """Return mcp_unavailable while the server does not answer."""
        if self.status is not None and self.status.up:
            return None
        return ToolError("mcp_unavailable", f"MCP server '{self.server}' is unavailable; try again later.")


def _describe(problem: Any) -> str:
    where = ".".join(str(part) for part in problem.absolute_path)
    message = str(problem.message)
    message = message if len(message) <= 300 else f"{message[:299]}…"
    return f"Argument '{where}': {message}." if where else f"{message[0].upper()}{message[1:]}."


# --- Turning a listing into registry tools ------------------------------------------------


def tool_name(server: str, remote_name: str) -> str | None:
    """Return the registry name of a server's tool, or None when it cannot be one (too long)."""
    name = f"{server}{SEPARATOR}{_INVALID_NAME_CHARACTERS.sub('_', remote_name)}"
    return name if remote_name and len(name) <= MAX_NAME_CHARS else None


def _validator(schema: Any) -> Any:
    """Return a validator of the schema; ValueError if it is no object schema the model could be given."""
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise ValueError("its input schema is not of type object")
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"its input schema is invalid: {exc.message}") from None
    return cls(schema)


def build_tools(config: McpServerConfig, listed: list[Any], status: ServerStatus) -> list[McpTool]:
    """Return the registry tools of a server's listing; tools that cannot be offered are logged and left out."""
    built: dict[str, McpTool] = {}
    for remote in listed:
        name = tool_name(config.name, remote.name)
        if name is None or name in built:
            logger.warning(
                "MCP server '%s': tool %r is left out (its name is %s)",
                config.name,
                remote.name,
                "too long" if name is None else f"{name!r} once made model-safe, like another tool's",
            )
            continue
        try:
            validator = _validator(remote.input_schema)
        except ValueError as exc:
            logger.warning("MCP server '%s': tool %r is left out: %s", config.name, remote.name, exc)
            continue
        description = (remote.description or remote.title or remote.name).strip()
        built[name] = McpTool(
            name=name,
            kind=READ if remote.name in config.read_only else WRITE,
            function=_caller(config.name, remote.name),
            description=description[:MAX_DESCRIPTION_CHARS],
            server=config.name,
            remote_name=remote.name,
            parameters=copy.deepcopy(remote.input_schema),  # the server's schema is offered as it is
            validator=validator,
            status=status,
        )
    return list(built.values())


def _caller(server: str, remote_name: str):
    def call(ctx: ToolContext, **arguments: Any) -> Any:
        bridge = _bridge
        if bridge is None:
            raise ToolError("mcp_unavailable", f"MCP server '{server}' is not connected.")
        try:
            result = bridge.call(server, remote_name, arguments)
        except McpCallFailed as exc:
            raise ToolError(exc.code, exc.message) from None
        return result_json(result, limit=settings.AGENT_MCP_MAX_RESULT_CHARS)

    call.__name__ = call.__qualname__ = f"mcp:{server}:{remote_name}"
    return call


# --- Results ---------------------------------------------------------------------------------


def result_json(result: Any, *, limit: int) -> Any:
    """Return a ``CallToolResult`` as the JSON the model sees (capped); ToolError(mcp_error) if the tool failed."""
    if result.is_error:
        text = _content_text(result.content) or "The tool reported an error."
        raise ToolError("mcp_error", text if len(text) <= MAX_ERROR_CHARS else f"{text[: MAX_ERROR_CHARS - 1]}…")
    if result.structured_content is not None:
        value: Any = result.structured_content
    else:
        blocks = [_block(item) for item in result.content]
        value = "\n\n".join(block["text"] for block in blocks) if all(b["type"] == "text" for b in blocks) else blocks
    return cap(value, limit=limit)


def cap(value: Any, *, limit: int) -> Any:
    """Return the value, or, when its JSON text is longer than ``limit``, its first ``limit`` characters marked."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return value
    return {"truncated": True, "total_chars": len(text), "content": text[:limit]}


def _content_text(content: list[Any]) -> str:
    return "\n".join(item.text for item in content if getattr(item, "type", "") == "text").strip()


def _block(item: Any) -> dict[str, Any]:
    kind = getattr(item, "type", "")
    if kind == "text":
        return {"type": "text", "text": item.text}
    if kind in ("image", "audio"):
        return {"type": kind, "mime_type": item.mime_type, "omitted": "binary data is not shown to the model"}
    if kind == "resource_link":
        return {"type": "resource_link", "uri": str(item.uri), "name": item.name, "description": item.description}
    if kind == "resource":
        resource = item.resource
        if hasattr(resource, "text"):
            return {"type": "resource", "uri": str(resource.uri), "text": resource.text}
        return {"type": "resource", "uri": str(resource.uri), "mime_type": resource.mime_type, "omitted": "binary"}
    return {"type": kind or "unknown", "omitted": "content of a kind this platform does not read"}


# --- The process's bridge ------------------------------------------------------------------------

_bridge: McpBridge | None = None
_bridge_pid: int | None = None
_statuses: dict[str, ServerStatus] = {}
_lifecycle_lock = threading.Lock()
_registry_lock = threading.Lock()


def _on_tools(config: McpServerConfig, listed: list[Any] | None) -> None:
    """Put a server's listing into the registry (None: the server is down, its tools stay but are not offered)."""
    with _registry_lock:
        status = _statuses.setdefault(config.name, ServerStatus(name=config.name))
        if listed is None:
            status.up = False
            return
        tools = build_tools(config, listed, status)
        names = tuple(spec.name for spec in tools)
        for spec in tools:
            current = default_registry.get(spec.name)
            if current is not None and not (isinstance(current, McpTool) and current.server == config.name):
                logger.warning("MCP server '%s': tool %r is left out: the name is taken", config.name, spec.name)
                continue
            default_registry.add(spec, replace=True)
        for gone in set(status.tools) - set(names):
            if default_registry.get(gone) is not None:
                default_registry.unregister(gone)
        if names != status.tools:
            missing = sorted(config.read_only - {spec.remote_name for spec in tools})
            if missing:
                logger.warning("MCP server '%s': read_only names tools it does not list: %s", config.name, missing)
        status.tools = names
        status.up = True


def ensure_started() -> None:
    """Connect to the configured MCP servers once per process and list their tools (no-op with none configured)."""
    global _bridge, _bridge_pid
    if not settings.AGENT_MCP_SERVERS:
        return
    if _bridge is not None and _bridge_pid == os.getpid() and _bridge.alive():
        return
    with _lifecycle_lock:
        if _bridge is not None and _bridge_pid == os.getpid() and _bridge.alive():
            return
        configs = parse_servers(settings.AGENT_MCP_SERVERS)
        bridge = McpBridge(
            configs, timeout=settings.AGENT_MCP_TIMEOUT, refresh_seconds=settings.AGENT_MCP_REFRESH, on_tools=_on_tools
        )
        _bridge, _bridge_pid = bridge, os.getpid()
        bridge.start(wait=settings.AGENT_MCP_TIMEOUT)


def refresh() -> None:
    """List every server's tools again now and wait for the answers (reconnects the servers that are down)."""
    bridge = _bridge
    if bridge is not None and bridge.alive():
        bridge.refresh(wait=settings.AGENT_MCP_TIMEOUT)


def stop() -> None:
    """Close every MCP session and stop the bridge's thread; the MCP tools leave the registry."""
    global _bridge, _bridge_pid
    with _lifecycle_lock:
        bridge, _bridge, _bridge_pid = _bridge, None, None
        if bridge is not None:
            bridge.stop()
        with _registry_lock:
            for status in _statuses.values():
                for name in status.tools:
                    if isinstance(default_registry.get(name), McpTool):
                        default_registry.unregister(name)
            _statuses.clear()


def statuses() -> dict[str, dict[str, Any]]:
    """Return each configured server's state: ``{"up": bool, "tools": [names]}`` (for health and tests)."""
    with _registry_lock:
        return {name: {"up": status.up, "tools": list(status.tools)} for name, status in _statuses.items()}
