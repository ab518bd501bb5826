"""``AGENT_MCP_SERVERS``: the MCP servers whose tools the agents may call, checked at start.

The variable is a JSON list; each entry names one server and how to reach it::

    [{"name": "facts", "url": "https://facts.example/mcp", "headers": {"Authorization": "Bearer …"},
      "read_only": ["lookup", "search"]},
     {"name": "files", "command": ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"],
      "env": {"LOG_LEVEL": "warn"}, "read_only": ["read_file", "list_directory"]}]

``url`` (streamable HTTP, with optional ``headers``) or ``command`` (a stdio
server: the argv as a list, or a program with ``args``; optional ``env`` and
``cwd``), never both. ``read_only`` lists the tools the operator declares
read-only; every other tool of the server is a write tool, whatever the
server's own ``readOnlyHint`` says. Settings keep the checked entries as plain
dicts (tests may set them the same way); ``parse_servers`` gives the typed form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

# A server's name is the prefix of its tools' names (`<name>__<tool>`), which models limit to [A-Za-z0-9_-]{1,64}.
_SERVER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_)){0,23}$")
_FIELDS = {"name", "url", "headers", "command", "args", "env", "cwd", "read_only"}


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server of ``AGENT_MCP_SERVERS``."""

    name: str
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    cwd: str | None = None
    read_only: frozenset[str] = frozenset()

    @property
    def transport(self) -> str:
        """Return ``streamable_http`` or ``stdio``."""
        return "streamable_http" if self.url else "stdio"

    def describe(self) -> str:
        """Return where the server is, for log lines (no header values: they may hold secrets)."""
        if self.url:
            return redact_userinfo(self.url)
        return " ".join(self.command[:1]) + (" …" if len(self.command) > 1 else "")


def redact_userinfo(url: str) -> str:
    """Return the URL with any user and password replaced (log lines must not carry credentials)."""
    return re.sub(r"(?<=://)[^/@]*@", "***@", url)


def _string_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ImproperlyConfigured(f"{where} must be an object of strings")
    return dict(value)


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ImproperlyConfigured(f"{where} must be a list of non-empty strings")
    return list(value)


def check_server(entry: Any, *, variable: str, index: int) -> dict[str, Any]:
    """Return one entry of the list checked and normalised; ImproperlyConfigured naming the variable if bad."""
    where = f"{variable}[{index}]"
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f'{where} must be an object like {{"name": "facts", "url": "http://…/mcp"}}')
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ImproperlyConfigured(
            f"{where} has unknown fields {sorted(unknown)} (allowed: {', '.join(sorted(_FIELDS))})"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not _SERVER_NAME.match(name):
        raise ImproperlyConfigured(
            f"{where}.name must be 1-24 letters, digits, '-' or single '_' (it prefixes its tools' names), got {name!r}"
        )
    where = f"{variable}[{name!r}]"
    url, command = entry.get("url"), entry.get("command")
    if (url is None) == (command is None):
        raise ImproperlyConfigured(f"{where} needs exactly one of url (streamable HTTP) or command (stdio)")
    checked: dict[str, Any] = {
        "name": name,
        "read_only": _string_list(entry.get("read_only", []), f"{where}.read_only"),
    }
    if url is not None:
        parsed = urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            shown = redact_userinfo(url) if isinstance(url, str) else url
            raise ImproperlyConfigured(f"{where}.url must be an http(s) URL, got {shown!r}")
        if {"args", "env", "cwd"} & set(entry):
            raise ImproperlyConfigured(f"{where}: args, env and cwd belong to a stdio server (command)")
        checked.update(url=url, headers=_string_map(entry.get("headers", {}), f"{where}.headers"))
    else:
        if "headers" in entry:
            raise ImproperlyConfigured(f"{where}: headers belong to a streamable HTTP server (url)")
        argv = [command] if isinstance(command, str) and command else _string_list(command, f"{where}.command")
        if not argv:
            raise ImproperlyConfigured(f"{where}.command must not be empty")
        argv += _string_list(entry.get("args", []), f"{where}.args")
        checked["command"] = argv
        if entry.get("env") is not None:
            checked["env"] = _string_map(entry["env"], f"{where}.env")
        if entry.get("cwd") is not None:
            if not isinstance(entry["cwd"], str):
                raise ImproperlyConfigured(f"{where}.cwd must be a string")
            checked["cwd"] = entry["cwd"]
    return checked


def check_servers(raw: Any, *, variable: str = "AGENT_MCP_SERVERS") -> list[dict[str, Any]]:
    """Return the list of servers checked and normalised; ImproperlyConfigured naming the variable if bad."""
    if not isinstance(raw, list):
        raise ImproperlyConfigured(f"{variable} must be a JSON list of servers")
    servers = [check_server(entry, variable=variable, index=index) for index, entry in enumerate(raw)]
    names = [server["name"] for server in servers]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ImproperlyConfigured(f"{variable}: server names must be unique, {duplicates} repeat")
    return servers


def env_mcp_servers(name: str, value: str | None) -> list[dict[str, Any]]:
    """Return the servers of the variable's JSON text (an empty list when unset)."""
    if value is None:
        return []
    try:
        raw = json.loads(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON list of servers: {exc}") from None
    return check_servers(raw, variable=name)


def parse_servers(servers: list[dict[str, Any]]) -> list[McpServerConfig]:
    """Return the typed configs of a checked list (checking it again: tests may set the setting directly)."""
    return [
        McpServerConfig(
            name=entry["name"],
            url=entry.get("url"),
            headers=dict(entry.get("headers") or {}),
            command=tuple(entry.get("command") or ()),
            env=entry.get("env"),
            cwd=entry.get("cwd"),
            read_only=frozenset(entry.get("read_only") or ()),
        )
        for entry in check_servers(servers)
    ]
