"""An MCP write tool called by the planner waits for the user's approval (AGENT_APPROVAL=write, the default).

Over a real ASGI server, the real openai SDK against the stub model, and a real
MCP server: nothing reaches the MCP server before the decision; an approved
call reaches it exactly once; a rejected one never; edited arguments are
checked against the server's own schema.
"""

import pytest

from agents.models import Approval, Memory, Run
from tests.support.live_server import read_until, wait_until
from tests.support.mcp_server import facts_config
from tests.support.stub_model import Text, ToolCalls

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def wait_waiting(run_id: str) -> None:
    wait_until(lambda: Run.objects.get(pk=run_id).status == Run.Status.WAITING, "the run waits", timeout=10)


def save_note_call(text: str) -> ToolCalls:
    return ToolCalls([("facts__save_note", {"text": text})])


def test_an_mcp_write_tool_waits_for_approval_then_runs_once(asgi_live_server, stub_model, connect, facts, user):
    connect(facts_config(facts))
    stub_model.queue(save_note_call("buy tea"), Text("Noted."))
    client = asgi_live_server.client(user)
    with client.send("note: buy tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, required = before[0]["run_id"], before[-1]["approval"]
        assert required["kind"] == "tool" and required["tool"] == "facts__save_note"
        assert required["arguments"] == {"text": "buy tea"}
        wait_waiting(run_id)
        assert facts.called("save_note") == [], "nothing reaches the server before the decision"

        answer = client.post(f"/api/agent/runs/{run_id}/approvals/{required['id']}", json={"decision": "approve"})
        assert answer.status_code == 200, answer.text
        after = stream.events()

    kinds = [event["type"] for event in after]
    assert kinds[:4] == ["approval_result", "resumed", "tool_call", "tool_result"]
    assert after[3]["ok"] is True and after[3]["result"] == {"result": "saved"}
    assert after[-1]["type"] == "done" and after[-1]["status"] == "completed"
    assert facts.called("save_note") == [{"text": "buy tea"}]
    approval = Approval.objects.get(pk=required["id"])
    assert approval.executed_at is not None and approval.result == {"ok": True, "result": {"result": "saved"}}


def test_a_rejected_mcp_write_tool_never_reaches_the_server(asgi_live_server, stub_model, connect, facts, user):
    connect(facts_config(facts))
    stub_model.queue(save_note_call("buy tea"), Text("All right, not saved."))
    client = asgi_live_server.client(user)
    with client.send("note: buy tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
        wait_waiting(run_id)
        answer = client.post(
            f"/api/agent/runs/{run_id}/approvals/{approval_id}", json={"decision": "reject", "reason": "no"}
        )
        assert answer.status_code == 200, answer.text
        after = stream.events()

    [result] = [event for event in after if event["type"] == "tool_result"]
    assert result["ok"] is False and result["error"]["code"] == "rejected"
    assert after[-1]["status"] == "completed"
    assert facts.called("save_note") == []


def test_edited_arguments_are_checked_against_the_mcp_schema(asgi_live_server, stub_model, connect, facts, user):
    connect(facts_config(facts))
    stub_model.queue(save_note_call("buy tea"), Text("Noted."))
    client = asgi_live_server.client(user)
    with client.send("note: buy tea") as stream:
        before = read_until(stream, "approval_required")
        run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
        url = f"/api/agent/runs/{run_id}/approvals/{approval_id}"
        for bad in ({"text": 5}, {}, {"text": ["x"]}):
            refused = client.post(url, json={"decision": "approve", "arguments": bad})
            assert refused.status_code == 400, (bad, refused.text)
            assert refused.json()["error"]["code"] == "invalid_arguments"
        answer = client.post(url, json={"decision": "approve", "arguments": {"text": "buy green tea"}})
        assert answer.status_code == 200, answer.text
        after = stream.events()

    assert after[-1]["status"] == "completed"
    assert facts.called("save_note") == [{"text": "buy green tea"}]


def test_an_approved_mcp_call_is_marked_before_it_runs_and_holds_no_transaction(
    asgi_live_server, stub_model, connect, facts, user
):
    # `slow` left out of read_only: a write tool here, so it waits for approval.
    connect({"name": "facts", "url": facts.url, "read_only": ["lookup"]})
    stub_model.queue(ToolCalls([("facts__slow", {"seconds": 1.5})]), Text("Done."))
    client = asgi_live_server.client(user)
    with client.send("do the slow thing") as stream:
        before = read_until(stream, "approval_required")
        run_id, approval_id = before[0]["run_id"], before[-1]["approval"]["id"]
        wait_waiting(run_id)
        answer = client.post(f"/api/agent/runs/{run_id}/approvals/{approval_id}", json={"decision": "approve"})
        assert answer.status_code == 200, answer.text

        wait_until(lambda: facts.called("slow"), "the MCP server runs the call", timeout=10)
        # While the server works: the mark is committed (seen from this connection), with an unknown outcome...
        marked = Approval.objects.get(pk=approval_id)
        assert marked.executed_at is not None and marked.result["error"]["code"] == "outcome_unknown"
        # ...and no transaction holds the run or the database: a write of this thread goes through at once.
        Memory.objects.create(user=user, content="written while the MCP call ran")
        after = stream.events()

    [result] = [event for event in after if event["type"] == "tool_result"]
    assert result["ok"] is True and result["result"] == {"result": "finally"}
    assert Approval.objects.get(pk=approval_id).result == {"ok": True, "result": {"result": "finally"}}
    assert facts.called("slow") == [{"seconds": 1.5}]
    assert after[-1]["status"] == "completed"
