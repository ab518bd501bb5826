"""A real MCP server for tests, built with the ``mcp`` SDK (``MCPServer``), over streamable HTTP or stdio.

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


if __name__ == "__main__":
    build([]).run("stdio")
    sys.exit(0)
