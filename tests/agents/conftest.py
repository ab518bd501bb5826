"""Fixtures of the agents tests that need more than the root conftest."""

from tests.support.mcp_server import connect, facts  # noqa: F401 (fixtures: a real MCP server and the platform's bridge)
