"""MCP tools against a real MCP server (the mcp SDK's MCPServer over streamable HTTP, served by uvicorn).

Listing, kinds (the operator's read_only, never the server's readOnlyHint),
schema checks, executors using read tools and refused write tools, a server
that is down or goes down, timeouts, huge results, errors, refresh, stdio,
headers, and a clean stop.
"""

import json
import logging
import sys
import threading
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from agents.models import Agent, Run
from agents.runs import services
from agents.tools import ToolContext, default_registry, dispatch, schemas
from agents.tools import mcp as mcp_tools
from agents.tools.registry import READ, READ_ONLY, READ_WRITE, WRITE
from agents_platform.mcp_config import check_servers, env_mcp_servers
from tests.factories import make_run, run_message, stored_events
from tests.support.mcp_server import ROOT_SCRIPT, FactsServer, facts_config
from tests.support.processes import free_port
from tests.support.stub_model import Text, ToolCalls, has_tool_results, is_executor, is_routing, plan, tool_names

pytestmark = pytest.mark.django_db(transaction=True)


def context(user, role: str = Agent.Role.PLANNER) -> ToolContext:
    run = make_run(user)
    return ToolContext.for_agent(services.agent_create(run=run, role=role, model="m"))


def offered(permission: str) -> list[str]:
    return [spec["function"]["name"] for spec in schemas(permission=permission)]


def run_to_end(user, message: str) -> tuple[Run, list[dict]]:
    run = run_message(user, message)
    return run, stored_events(run)


def results_of(events: list[dict], tool: str) -> list[dict]:
    return [event for event in events if event["type"] == "tool_result" and event["tool"] == tool]


def wait_until(condition, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- Listing -----------------------------------------------------------------------------------


def test_tools_are_listed_with_the_servers_schemas_and_the_operators_kinds(connect, facts):
    connect(facts_config(facts, headers={"Authorization": "Bearer s3cret"}))

    lookup = default_registry.get("facts__lookup")
    note = default_registry.get("facts__save_note")
    assert lookup.kind == READ
    # The server marks save_note readOnlyHint=True; only the operator's read_only list makes a read tool.
    assert note.kind == WRITE
    parameters = lookup.schema["function"]["parameters"]
    assert parameters["type"] == "object"
    assert parameters["properties"]["topic"]["type"] == "string"
    assert parameters["required"] == ["topic"]
    assert lookup.schema["function"]["description"] == "Look up a fact about a topic."
    assert "facts__save_note" in offered(READ_WRITE)
    assert "facts__lookup" in offered(READ_ONLY) and "facts__save_note" not in offered(READ_ONLY)
    assert mcp_tools.statuses()["facts"]["up"] is True
    # The configured headers travel with every request to the server.
    assert facts.headers and all(headers.get("authorization") == "Bearer s3cret" for headers in facts.headers)


def test_arguments_are_checked_against_the_schema_before_the_call(connect, facts, user):
    connect(facts_config(facts))
    ctx = context(user)

    for arguments, expected in (
        ('{"topic": 5}', "Argument 'topic': 5 is not of type 'string'."),
        ("{}", "'topic' is a required property."),
        ("[1]", "Arguments must be a JSON object, got array."),
    ):
        outcome = dispatch(ctx, "facts__lookup", arguments)
        assert outcome.ok is False
        assert outcome.error == {"code": "invalid_arguments", "message": expected}
    assert facts.calls == []

    outcome = dispatch(ctx, "facts__lookup", '{"topic": "tea"}')
    assert outcome.ok is True
    assert outcome.result == {"result": "Fact: tea is older than it looks."}
    assert facts.called("lookup") == [{"topic": "tea"}]


# --- Executors and the planner ----------------------------------------------------------------------


def test_an_executor_uses_a_read_tool_in_a_complex_run(connect, facts, user, stub_model):
    connect(facts_config(facts))

    def reply(request):
        if is_routing(request):
            return plan("Find facts", [("f", "Find a fact about tea")])
        if is_executor(request):
            if has_tool_results(request):
                return Text("Tea is older than it looks.")
            return ToolCalls([("facts__lookup", {"topic": "tea"})])
        return Text("Here is the fact: tea is older than it looks.")

    stub_model.responder = reply
    run, events = run_to_end(user, "tell me a fact about tea")

    assert run.status == Run.Status.COMPLETED
    [result] = results_of(events, "facts__lookup")
    assert result["ok"] is True and result["result"] == {"result": "Fact: tea is older than it looks."}
    [call] = [event for event in events if event["type"] == "tool_call"]
    assert call["agent_kind"] == "executor"
    assert facts.called("lookup") == [{"topic": "tea"}]
    executor_requests = [request for request in stub_model.requests if is_executor(request)]
    assert "facts__lookup" in tool_names(executor_requests[0])
    assert "facts__save_note" not in tool_names(executor_requests[0])
    # The model read the server's answer as the tool message.
    tool_message = executor_requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and "older than it looks" in tool_message["content"]


def test_an_executor_is_refused_a_write_tool_and_the_server_never_sees_it(connect, facts, user, stub_model):
    connect(facts_config(facts))

    def reply(request):
        if is_routing(request):
            return plan("Save", [("s", "Save a note")])
        if is_executor(request):
            if has_tool_results(request):
                return Text("I could not save it.")
            return ToolCalls([("facts__save_note", {"text": "hello"})])
        return Text("Nothing was saved.")

    stub_model.responder = reply
    run, events = run_to_end(user, "save a note")

    assert run.status == Run.Status.COMPLETED
    [result] = results_of(events, "facts__save_note")
    assert result["ok"] is False and result["error"]["code"] == "tool_not_allowed"
    assert facts.called("save_note") == []


def test_the_planner_runs_a_write_tool_when_approval_is_off(connect, facts, user, stub_model, settings):
    settings.AGENT_APPROVAL = "none"
    connect(facts_config(facts))
    stub_model.queue(ToolCalls([("facts__save_note", {"text": "buy tea"})]), Text("Saved."))

    run, events = run_to_end(user, "note: buy tea")

    assert run.status == Run.Status.COMPLETED
    [result] = results_of(events, "facts__save_note")
    assert result["ok"] is True and result["result"] == {"result": "saved"}
    assert facts.called("save_note") == [{"text": "buy tea"}]


# --- Failures ---------------------------------------------------------------------------------------


def test_a_server_that_is_down_has_no_tools_and_the_run_completes(connect, facts, user, stub_model, caplog):
    down = {"name": "gone", "url": f"http://127.0.0.1:{free_port()}/mcp", "read_only": ["lookup"]}
    with caplog.at_level(logging.WARNING, logger="agents.tools.mcp"):
        connect(facts_config(facts), down)

    assert mcp_tools.statuses()["gone"] == {"up": False, "tools": []}
    assert not [name for name in default_registry.names() if name.startswith("gone__")]
    [line] = [record.getMessage() for record in caplog.records if "'gone'" in record.getMessage()]
    assert "MCP server 'gone'" in line and "is unavailable" in line and "its tools are not offered" in line

    stub_model.queue(Text("Hello."))
    run, _ = run_to_end(user, "hi")
    assert run.status == Run.Status.COMPLETED
    offered_names = tool_names(stub_model.requests[0])
    assert "facts__lookup" in offered_names and not [name for name in offered_names if name.startswith("gone__")]


def test_a_server_that_goes_down_answers_unavailable_and_its_tools_are_withdrawn(connect, facts, user, stub_model):
    connect(facts_config(facts))
    facts.stop()
    stub_model.queue(ToolCalls([("facts__lookup", {"topic": "tea"})]), Text("The fact server is down."))

    run, events = run_to_end(user, "a fact about tea")

    assert run.status == Run.Status.COMPLETED
    [result] = results_of(events, "facts__lookup")
    assert result["ok"] is False and result["error"]["code"] == "mcp_unavailable"
    wait_until(lambda: mcp_tools.statuses()["facts"]["up"] is False, what="the server marked down")
    assert "facts__lookup" not in offered(READ_WRITE)
    outcome = dispatch(context(user), "facts__lookup", '{"topic": "tea"}')
    assert outcome.error["code"] == "mcp_unavailable"


def test_a_server_down_at_start_is_connected_when_it_comes_up(connect):
    later = FactsServer()  # its port is chosen, nothing listens on it yet
    try:
        connect(facts_config(later))
        assert mcp_tools.statuses()["facts"]["up"] is False
        assert default_registry.get("facts__lookup") is None

        later.start()
        wait_until(lambda: mcp_tools.statuses()["facts"]["up"], what="the reconnection (backoff 1 s, 2 s, ...)")
        assert "facts__lookup" in offered(READ_ONLY)
    finally:
        later.stop()


def test_parallel_executors_share_the_session(connect, facts, user, stub_model):
    connect(facts_config(facts))
    topics = {"Find tea": "tea", "Find coffee": "coffee", "Find cocoa": "cocoa"}

    def reply(request):
        if is_routing(request):
            return plan("Three facts", [("a", "Find tea"), ("b", "Find coffee"), ("c", "Find cocoa")])
        if is_executor(request):
            title = request["messages"][1]["content"].splitlines()[0].removeprefix("Step: ")
            if has_tool_results(request):
                return Text(f"Done with {title}.")
            return ToolCalls([("facts__lookup", {"topic": topics[title]})])
        return Text("Three facts.")

    stub_model.responder = reply
    run, events = run_to_end(user, "three facts")

    assert run.status == Run.Status.COMPLETED
    results = results_of(events, "facts__lookup")
    assert len(results) == 3 and all(result["ok"] for result in results)
    assert sorted(call["topic"] for call in facts.called("lookup")) == ["cocoa", "coffee", "tea"]


def test_a_tool_that_times_out_is_an_error_and_the_run_goes_on(connect, facts, user, stub_model):
    connect(facts_config(facts), timeout=1.0)
    stub_model.queue(
        ToolCalls([("facts__slow", {"seconds": 5})]), ToolCalls([("facts__lookup", {"topic": "tea"})]), Text("Done.")
    )

    started = time.monotonic()
    run, events = run_to_end(user, "slow then fast")

    assert run.status == Run.Status.COMPLETED
    [slow] = results_of(events, "facts__slow")
    assert slow["ok"] is False and slow["error"]["code"] == "mcp_timeout"
    assert 900 <= slow["duration_ms"] < 3000
    # The session survives a timed-out call: the next call answers.
    [lookup] = results_of(events, "facts__lookup")
    assert lookup["ok"] is True
    assert time.monotonic() - started < 15


def test_a_huge_result_is_capped_and_marked(connect, facts, user, stub_model):
    connect(facts_config(facts), max_chars=1000)
    stub_model.queue(ToolCalls([("facts__huge", {"size": 50_000})]), Text("That was long."))

    _, events = run_to_end(user, "something long")

    [result] = results_of(events, "facts__huge")
    assert result["ok"] is True
    structured = json.dumps({"result": "x" * 50_000}, ensure_ascii=False)
    assert result["result"] == {"truncated": True, "total_chars": len(structured), "content": structured[:1000]}
    tool_message = stub_model.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and len(tool_message["content"]) < 1200


def test_a_tool_error_reaches_the_model_as_mcp_error(connect, facts, user):
    connect(facts_config(facts))

    outcome = dispatch(context(user), "facts__fail", '{"reason": "no reason"}')

    assert outcome.ok is False
    # The server's own words, as the server sends them.
    assert outcome.error == {"code": "mcp_error", "message": "Error executing tool fail: cannot do that: no reason"}
    assert facts.called("fail") == [{"reason": "no reason"}]


# --- Refresh, stdio, configuration ------------------------------------------------------------------


def test_a_refresh_picks_up_a_new_tool_and_drops_a_removed_one(connect, facts):
    connect(facts_config(facts), refresh=0.5)

    @facts.mcp.tool()
    def added_later(word: str) -> str:
        """Echo a word."""
        return word

    facts.mcp.remove_tool("huge")
    wait_until(lambda: default_registry.get("facts__added_later"), what="the periodic refresh")
    assert default_registry.get("facts__added_later").kind == WRITE  # not in read_only
    assert default_registry.get("facts__huge") is None


def test_an_explicit_refresh_waits_for_the_new_listing(connect, facts):
    connect(facts_config(facts))

    @facts.mcp.tool()
    def added_now(word: str) -> str:
        """Echo a word."""
        return word

    assert default_registry.get("facts__added_now") is None
    mcp_tools.refresh()
    assert default_registry.get("facts__added_now") is not None


def test_a_stdio_server_is_started_listed_called_and_stopped(connect, user):
    connect({"name": "local", "command": [sys.executable, str(ROOT_SCRIPT)], "read_only": ["lookup"]})

    assert default_registry.get("local__lookup").kind == READ
    outcome = dispatch(context(user, Agent.Role.EXECUTOR), "local__lookup", '{"topic": "stdio"}')
    assert outcome.ok is True and outcome.result == {"result": "Fact: stdio is older than it looks."}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{", "AGENT_MCP_SERVERS must be a JSON list of servers"),
        ('{"name": "x"}', "AGENT_MCP_SERVERS must be a JSON list of servers"),
        ('[{"name": "a", "url": "http://h/mcp", "command": ["x"]}]', "needs exactly one of url"),
        ('[{"name": "a"}]', "needs exactly one of url"),
        ('[{"name": "a__b", "url": "http://h/mcp"}]', "name must be"),
        ('[{"name": "a", "url": "ftp://h/mcp"}]', "url must be an http(s) URL"),
        ('[{"name": "a", "url": "http://h/mcp", "read_only": "lookup"}]', "read_only must be a list"),
        ('[{"name": "a", "url": "http://h/mcp", "secret": 1}]', "unknown fields ['secret']"),
        ('[{"name": "a", "url": "http://h/mcp"}, {"name": "a", "command": ["x"]}]', "must be unique"),
        ('[{"name": "a", "command": ["x"], "headers": {"a": "b"}}]', "headers belong to"),
    ],
)
def test_a_bad_server_list_fails_at_start_naming_the_variable(value, message):
    with pytest.raises(ImproperlyConfigured) as raised:
        env_mcp_servers("AGENT_MCP_SERVERS", value)
    assert "AGENT_MCP_SERVERS" in str(raised.value) and message in str(raised.value)


def test_a_server_list_is_normalised():
    [http, stdio] = check_servers(
        [
            {"name": "facts", "url": "https://f.example/mcp", "read_only": ["lookup"]},
            {"name": "files", "command": "server-files", "args": ["/srv"], "env": {"A": "1"}},
        ]
    )
    assert http == {"name": "facts", "url": "https://f.example/mcp", "headers": {}, "read_only": ["lookup"]}
    assert stdio == {"name": "files", "command": ["server-files", "/srv"], "env": {"A": "1"}, "read_only": []}


def test_without_servers_nothing_starts(settings):
    settings.AGENT_MCP_SERVERS = []
    mcp_tools.ensure_started()
    assert not [thread for thread in threading.enumerate() if thread.name == "agents-mcp"]


def test_the_openapi_schema_lists_the_mcp_tools_next_to_the_built_ins(connect, facts):
    from drf_spectacular.generators import SchemaGenerator

    connect(facts_config(facts))
    schema = SchemaGenerator().get_schema(request=None, public=True)

    tools = {tool["name"]: tool for tool in schema["x-agent-tools"]}
    assert tools["facts__lookup"]["kind"] == "read" and tools["facts__lookup"]["source"] == "mcp:facts"
    assert tools["facts__lookup"]["parameters"] == default_registry.get("facts__lookup").parameters
    assert tools["facts__save_note"]["kind"] == "write"
    assert tools["remember"] == {**tools["remember"], "kind": "write", "source": "builtin"}
    assert "`facts__lookup` (read, mcp:facts)" in schema["info"]["description"]
    assert "AgentTool" in schema["components"]["schemas"]


def test_healthz_says_which_servers_answer_and_stays_ok_when_one_is_down(connect, facts, client):
    connect(facts_config(facts), {"name": "gone", "url": f"http://127.0.0.1:{free_port()}/mcp"})

    response = client.get("/healthz")

    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response.json()["mcp"] == {"facts": {"up": True, "tools": 5}, "gone": {"up": False, "tools": 0}}
