"""The bridge between the synchronous engine and the asynchronous MCP SDK: one event loop thread per process.

The engine runs tools in plain threads; the ``mcp`` SDK is async (anyio), and
an MCP client session lives in the task that opened it. So one daemon thread
per process runs an asyncio loop that owns every server's session: a
supervisor task per server connects, lists the tools, keeps the session open,
lists them again every ``AGENT_MCP_REFRESH`` seconds (or at once when asked),
and reconnects with a growing delay when the server is down. Engine threads
submit a call with ``asyncio.run_coroutine_threadsafe`` and wait for it with
the call's timeout; the coroutine carries the same timeout, so a call that
runs out is cancelled on the loop too and nothing is left behind.

``stop()`` cancels the supervisors (each closes its session: the HTTP client,
or the stdio server's process), stops the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents_platform.mcp_config import McpServerConfig

logger = logging.getLogger("agents.tools.mcp")

# First delay before connecting again to a server that is down; it doubles up to AGENT_MCP_REFRESH.
RETRY_FIRST_SECONDS = 1.0
# Pages of one tools/list walk (a server whose cursor never ends cannot hang a refresh).
MAX_LIST_PAGES = 50
# Seconds a session may take to close politely before it is cut, and stop()'s bound on the whole.
CLOSE_SECONDS = 3.0
STOP_SECONDS = 10.0


class McpCallFailed(Exception):
    """A call that did not reach a result: ``code`` is mcp_unavailable, mcp_timeout or mcp_error."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# Called on the loop thread with the server's tools (a list of mcp Tool), or None when it went down.
ToolsListener = Callable[[McpServerConfig, list[Any] | None], None]


@dataclass
class _Server:
    config: McpServerConfig
    client: Any = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when the server answered (or failed) the listing asked for last; `requested` counts the asks.
    listed: asyncio.Event = field(default_factory=asyncio.Event)
    requested: int = 0
    up: bool = False
    calls: set[asyncio.Task] = field(default_factory=set)


class McpBridge:
    """The process's MCP sessions, on a loop thread of their own; ``call`` is safe from any thread."""

    def __init__(
        self, servers: list[McpServerConfig], *, timeout: float, refresh_seconds: float, on_tools: ToolsListener
    ):
        self.configs = {config.name: config for config in servers}
        self.timeout = timeout
        self.refresh_seconds = refresh_seconds
        self.on_tools = on_tools
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: dict[str, _Server] = {}
        self._supervisors: list[asyncio.Task] = []
        self._stopping = False

    # --- the thread ------------------------------------------------------------

    def start(self, *, wait: float) -> None:
        """Start the loop thread and the supervisors; wait up to ``wait`` seconds for every first listing."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="agents-mcp", daemon=True)
        self._thread.start()
        ready.wait()
        asyncio.run_coroutine_threadsafe(self._start_supervisors(), loop).result()
        self.wait_listed(wait)

    def wait_listed(self, seconds: float) -> None:
        """Wait until every server was tried once since the last ``refresh`` (or ``seconds`` passed)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._wait_listed(), self._loop)
        try:
            future.result(timeout=seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            logger.warning("MCP: not every server answered its tools listing within %.0f s", seconds)

    def refresh(self, *, wait: float) -> None:
        """List every server's tools again now (reconnecting to those that are down); wait for it."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._wake_all(), self._loop).result()
        self.wait_listed(wait)

    def stop(self) -> None:
        """Close every session, stop the loop and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop_supervisors(), loop).result(timeout=STOP_SECONDS)
            logger.info("MCP: the sessions of %d server(s) are closed", len(self.configs))
        except (concurrent.futures.TimeoutError, RuntimeError):
            logger.warning("MCP: the sessions did not close within %.0f s", STOP_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=STOP_SECONDS)
        if not thread.is_alive():
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        self._loop = self._thread = None

    def alive(self) -> bool:
        """Return whether the loop thread runs."""
        return self._thread is not None and self._thread.is_alive()

    # --- calls from engine threads -------------------------------------------------

    def call(self, server: str, tool: str, arguments: dict[str, Any]) -> Any:
        """Call a tool and return its ``CallToolResult``; McpCallFailed when no result came."""
        loop = self._loop
        if loop is None or not self.alive():
            raise McpCallFailed("mcp_unavailable", f"MCP server '{server}' is not connected.")
        future = asyncio.run_coroutine_threadsafe(self._call(server, tool, arguments), loop)
        try:
            # The coroutine times itself out; this wait is the backstop for a loop that is stuck.
            return future.result(timeout=self.timeout + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise McpCallFailed("mcp_timeout", _timeout_message(server, tool, self.timeout)) from None
        except concurrent.futures.CancelledError:
            raise McpCallFailed(
                "mcp_unavailable", f"The connection to MCP server '{server}' was lost during the call."
            ) from None

    async def _call(self, name: str, tool: str, arguments: dict[str, Any]) -> Any:
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        server = self._servers.get(name)
        client = server.client if server is not None else None
        if server is None or client is None:
            raise McpCallFailed("mcp_unavailable", f"MCP server '{name}' is not connected.")
        task = asyncio.current_task()
        assert task is not None
        server.calls.add(task)
        try:
            async with asyncio.timeout(self.timeout):
                return await client.call_tool(tool, arguments, read_timeout_seconds=self.timeout)
        except TimeoutError:
            raise McpCallFailed("mcp_timeout", _timeout_message(name, tool, self.timeout)) from None
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise McpCallFailed("mcp_timeout", _timeout_message(name, tool, self.timeout)) from None
            if exc.code == CONNECTION_CLOSED:
                # The transport failed (the server went away): the supervisor reconnects or marks it down.
                server.wake.set()
                raise McpCallFailed("mcp_unavailable", f"MCP server '{name}' could not be reached.") from None
            raise McpCallFailed("mcp_error", f"MCP server '{name}' refused the call: {_shorten(str(exc))}") from None
        except McpCallFailed:
            raise
        except Exception as exc:
            logger.warning("MCP: call of %s on server '%s' failed: %r", tool, name, exc)
            server.wake.set()  # the session may be broken: the supervisor checks it by listing again
            raise McpCallFailed("mcp_unavailable", f"MCP server '{name}' could not be reached.") from None
        finally:
            server.calls.discard(task)

    # --- on the loop ----------------------------------------------------------------

    async def _start_supervisors(self) -> None:
        for config in self.configs.values():
            server = _Server(config=config)
            self._servers[config.name] = server
            self._supervisors.append(asyncio.create_task(self._supervise(server), name=f"mcp-{config.name}"))

    async def _wait_listed(self) -> None:
        await asyncio.gather(*(server.listed.wait() for server in self._servers.values()))

    async def _wake_all(self) -> None:
        for server in self._servers.values():
            server.requested += 1
            server.listed.clear()
            server.wake.set()

    async def _stop_supervisors(self) -> None:
        self._stopping = True
        for task in self._supervisors:
            task.cancel()
        # A session closes politely (an HTTP DELETE, a stdio server's exit); one that takes too long is cut.
        _, slow = await asyncio.wait(self._supervisors, timeout=CLOSE_SECONDS)
        for task in slow:
            task.cancel()
        if slow:
            await asyncio.wait(slow, timeout=CLOSE_SECONDS)
        self._supervisors.clear()

    async def _supervise(self, server: _Server) -> None:
        """Keep one server connected and its tools listed, for the life of the bridge."""
        delay = RETRY_FIRST_SECONDS
        while True:
            asked = server.requested
            try:
                async with self._connect(server.config) as client:
                    server.client = client
                    while True:
                        await self._list(server, asked)
                        delay = RETRY_FIRST_SECONDS
                        await self._sleep(server, self.refresh_seconds)
                        asked = server.requested
            except asyncio.CancelledError:
                if self._stopping:
                    raise  # stop(): the session is closed on the way out
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    task.uncancel()  # the cancel came from the session's own task group, not from stop()
                error: BaseException | None = None  # the session's task group cancelled us: it failed
            except Exception as exc:
                error = exc
            finally:
                self._lost(server)
            logger.warning(
                "MCP server '%s' (%s) is unavailable: %s; its tools are not offered; connecting again in %.0f s",
                server.config.name,
                server.config.describe(),
                _reason(error),
                delay,
            )
            server.up = False
            self.on_tools(server.config, None)
            if server.requested == asked:
                server.listed.set()
            await self._sleep(server, delay)
            delay = min(delay * 2, self.refresh_seconds)

    async def _sleep(self, server: _Server, seconds: float) -> None:
        """Sleep, or wake early when someone asks for a refresh."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await server.wake.wait()
        server.wake.clear()

    async def _list(self, server: _Server, asked: int) -> None:
        tools: list[Any] = []
        cursor: str | None = None
        async with asyncio.timeout(self.timeout):
            for _ in range(MAX_LIST_PAGES):
                page = await server.client.list_tools(cursor=cursor, cache_mode="refresh")
                tools.extend(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
        self.on_tools(server.config, tools)
        if not server.up:
            logger.info(
                "MCP server '%s' (%s): %d tools listed", server.config.name, server.config.describe(), len(tools)
            )
        server.up = True
        if server.requested == asked:  # else a refresh was asked meanwhile: the next listing answers it
            server.listed.set()

    def _lost(self, server: _Server) -> None:
        server.client = None
        for task in list(server.calls):
            task.cancel()  # their callers get mcp_unavailable at once, not after the timeout

    def _connect(self, config: McpServerConfig) -> Any:
        from mcp import Client, StdioServerParameters
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        if config.url:
            http_client = create_mcp_http_client(headers=config.headers or None)
            return _closing(
                http_client, Client(streamable_http_client(config.url, http_client=http_client), cache=None)
            )
        parameters = StdioServerParameters(
            command=config.command[0], args=list(config.command[1:]), env=config.env, cwd=config.cwd
        )
        return Client(parameters, cache=None)


@contextlib.asynccontextmanager
async def _closing(http_client: Any, client: Any):
    """Enter the MCP client and close the HTTP client we made for it (the transport leaves a given one open)."""
    async with http_client, client:
        yield client


def _reason(error: BaseException | None) -> str:
    """Return the innermost cause of a connection failure, in one line (task groups wrap it)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if error is None:
        return "the connection was lost"
    text = str(error).strip()
    return f"{type(error).__name__}: {text[:300]}" if text else type(error).__name__


def _shorten(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _timeout_message(server: str, tool: str, seconds: float) -> str:
    return f"MCP tool '{tool}' of server '{server}' did not answer within {seconds:g} s."
