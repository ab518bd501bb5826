"""A real MCP server for tests, built with the ``mcp`` SDK (``MCPServer``), over streamable HTTP or stdio.

Fixtures (import them into a test module): ``facts`` (the server, started and
stopped), ``connect`` (set AGENT_MCP_SERVERS and start the platform's bridge;
at teardown stop it and check it left no thread and no MCP tool behind).

``FactsServer().start()`` serves it with uvicorn on a free port in a thread of
this process; ``stop()`` stops exactly that server and joins its thread. It
records every call it gets (``calls``) and the headers of every HTTP request
(``headers``). Run as a script, it serves the same tools over stdio (the
stdio test starts it as a server's ``command``).

Tools: ``lookup`` (the test declares it read-only), ``save_note`` (a write
tool whose ``readOnlyHint`` claims otherwise), ``slow`` (sleeps), ``huge``
(a long text), ``fail`` (reports an error).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

# Run as a script, this module serves the facts tools over stdio.
ROOT_SCRIPT = Path(__file__).resolve()


def build(calls: list[tuple[str, dict[str, Any]]]) -> MCPServer:
    server = MCPServer("facts")

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def lookup(topic: str) -> str:
        """Look up a fact about a topic."""
        calls.append(("lookup", {"topic": topic}))
        return f"Fact: {topic} is older than it looks."

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def save_note(text: str) -> str:
        """Save a note (the server calls this read-only; the operator does not)."""
        calls.append(("save_note", {"text": text}))
        return "saved"

    @server.tool()
    async def slow(seconds: float) -> str:
        """Answer after a while."""
        calls.append(("slow", {"seconds": seconds}))
        await asyncio.sleep(seconds)
        return "finally"

    @server.tool()
    def huge(size: int) -> str:
        """Return a very long text."""
        calls.append(("huge", {"size": size}))
        return "x" * size

    @server.tool()
    def fail(reason: str) -> str:
        """Always fail."""
        calls.append(("fail", {"reason": reason}))
        raise ToolError(f"cannot do that: {reason}")

    return server


class FactsServer:
    """The facts MCP server on 127.0.0.1, served by uvicorn in a thread."""

    def __init__(self) -> None:
        import uvicorn

        from tests.support.processes import free_port

        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.mcp = build(self.calls)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        app = self.mcp.streamable_http_app()
        headers = self.headers

        async def recording(scope, receive, send):
            if scope["type"] == "http":
                headers.append({key.decode(): value.decode() for key, value in scope["headers"]})
            await app(scope, receive, send)

        config = uvicorn.Config(recording, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    def start(self) -> FactsServer:
        self.thread = threading.Thread(target=self.server.run, name=f"mcp-test-server-{self.port}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the MCP test server did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
            assert not self.thread.is_alive(), "the MCP test server did not stop"
            self.thread = None

    def called(self, name: str) -> list[dict[str, Any]]:
        return [arguments for tool, arguments in self.calls if tool == name]


def facts_config(server: FactsServer, **extra) -> dict:
    """Return the AGENT_MCP_SERVERS entry of the facts server (save_note is the one write tool)."""
    return {"name": "facts", "url": server.url, "read_only": ["lookup", "slow", "huge", "fail"], **extra}


@pytest.fixture
def facts():
    server = FactsServer().start()
    yield server
    server.stop()


@pytest.fixture
def connect(settings):
    """Point AGENT_MCP_SERVERS at servers and start the bridge; stop it (and check it left nothing) after."""
    from agents.tools import default_registry
    from agents.tools import mcp as mcp_tools

    def start(*servers: dict, timeout: float = 10.0, refresh: float = 300.0, max_chars: int = 20_000) -> None:
        settings.AGENT_MCP_SERVERS = list(servers)
        settings.AGENT_MCP_TIMEOUT = timeout
        settings.AGENT_MCP_REFRESH = refresh
        settings.AGENT_MCP_MAX_RESULT_CHARS = max_chars
        mcp_tools.ensure_started()

    yield start
    mcp_tools.stop()
    assert not [thread for thread in threading.enumerate() if thread.name == "agents-mcp"]
    assert not [name for name in default_registry.names() if "__" in name]


if __name__ == "__main__":
    build([]).run("stdio")
    sys.exit(0)
