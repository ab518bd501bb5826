"""MCP in a real web process: tools listed at the ASGI lifespan's start, used by a run over HTTP, closed at SIGTERM."""

import json
import signal

import pytest
from rest_framework.authtoken.models import Token

from tests.support.live_server import LiveClient
from tests.support.processes import Web, platform_env
from tests.support.stub_model import Text, ToolCalls

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def web_process(tmp_path):
    started: list[Web] = []

    def start(env: dict[str, str]) -> Web:
        web = Web(env, tmp_path)
        started.append(web)
        return web.start()

    yield start
    for web in started:
        web.stop()


def test_a_web_process_lists_mcp_tools_at_start_uses_them_and_closes_them_at_sigterm(
    facts, web_process, stub_model, user
):
    servers = [{"name": "facts", "url": facts.url, "read_only": ["lookup"]}]
    env = platform_env(
        redis_db=None,
        AGENT_RUNNER="thread",
        AGENT_DRAIN_SECONDS="1",
        AGENT_MCP_SERVERS=json.dumps(servers),
        AGENT_MCP_TIMEOUT="5",
        LLM_PROVIDER="openai",
        OPENAI_BASE_URL=stub_model.base_url,
        OPENAI_API_KEY="test",
    )
    web = web_process(env)
    web.wait_healthy()
    # Listed by the lifespan's startup, before any run.
    assert f"MCP server 'facts' ({facts.url}): 5 tools listed" in web.log()
    assert facts.headers, "the web process asked the MCP server at start"

    stub_model.queue(ToolCalls([("facts__lookup", {"topic": "tea"})]), Text("Tea is old."))
    client = LiveClient(web.url, headers={"Authorization": f"Token {Token.objects.create(user=user).key}"})
    with client.send("a fact about tea") as stream:
        assert stream.status_code == 200
        events = stream.events()
    [result] = [event for event in events if event["type"] == "tool_result"]
    assert result["ok"] is True and result["result"] == {"result": "Fact: tea is older than it looks."}
    assert events[-1]["type"] == "done" and events[-1]["status"] == "completed"
    assert "facts__lookup" in [tool["function"]["name"] for tool in stub_model.requests[0]["tools"]]

    web.signal(signal.SIGTERM)
    # uvicorn exits by the signal it got (-15) once its shutdown is complete.
    assert web.wait_exit(timeout=30) in (0, -signal.SIGTERM), web.log()
    log = web.log()
    assert "MCP: the sessions of 1 server(s) are closed" in log and "Application shutdown complete." in log, log
    assert "Traceback" not in log and "did not close" not in log, log
