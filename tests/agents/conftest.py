"""Fixtures of the agents tests that need more than the root conftest."""

import pytest
from rest_framework.authtoken.models import Token

from tests.support.mcp_server import connect, facts  # noqa: F401 (fixtures: a real MCP server and the platform's bridge)


@pytest.fixture
def processes():
    """Start platform processes for a test and stop every one of them (their whole groups) at the end."""
    started = []

    def start(process):
        started.append(process)
        return process.start()

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key
