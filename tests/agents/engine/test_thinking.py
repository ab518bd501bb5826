"""`thinking` events: a model's reasoning stream and an executor's own words, never part of the answer.

Over the real stack: the stub model streams ``reasoning_content`` / ``reasoning``
deltas through the real openai SDK, and the events are read from a real
uvicorn server with a real HTTP client.
"""

import pytest

from agents.models import Agent, AgentMessage, Run, RunEvent
from agents.runs import services
from agents.runtime.worker import execute_run
from tests.support.stub_model import Text, ToolCalls, is_executor, is_routing, last_user_text, plan

pytestmark = pytest.mark.django_db(transaction=True)


def thinking_of(events: list[dict], kind: str | None = None) -> list[dict]:
    return [e for e in events if e["type"] == "thinking" and (kind is None or e["agent_kind"] == kind)]


def joined(events: list[dict], kind: str = "text") -> str:
    return "".join(e["delta"] for e in events if e["type"] == kind)


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_a_reasoning_stream_is_thinking_not_answer(stub_model, asgi_live_server, user, key):
    reasoning = ["The user ", "greets me; ", "a short ", "hello will do. ", *["Yes, "] * 30]
    stub_model.queue(Text("Hello there!", reasoning=reasoning, reasoning_key=key))
    client = asgi_live_server.client(user)
    with client.send("hi") as stream:
        events = stream.events()
    run = Run.objects.get(pk=events[0]["run_id"])

    thinking = thinking_of(events)
    assert joined(events, "thinking") == "".join(reasoning)
    planner = Agent.objects.get(run=run, role="planner")
    assert {(e["agent_id"], e["agent_kind"]) for e in thinking} == {(str(planner.pk), "planner")}
    # Coalesced like text: fewer events than the stream's pieces (they arrive together).
    assert len(thinking) < len(reasoning)
    # Never part of the answer: not in the text events, the stored message or the stored call.
    assert joined(events) == "Hello there!"
    assert run.assistant_message.content == "Hello there!"
    assert AgentMessage.objects.get(run=run, role="assistant").content == "Hello there!"
    # Thinking came first, as the model streamed it.
    kinds = [e["type"] for e in events]
    assert kinds.index("thinking") < kinds.index("text")
    assert events[-1]["type"] == "done" and events[-1]["status"] == "completed"


def test_an_executor_s_words_between_tool_calls_are_thinking(stub_model, user):
    def reply(request):
        if is_routing(request):
            return plan("Add", [("sum", "Add the numbers")])
        if is_executor(request):
            if request["messages"][-1]["role"] != "tool":
                return ToolCalls(
                    [("calculate", {"expression": "2+3"})],
                    content="I will add them with the calculator first.",
                    reasoning=["Two numbers; ", "use calculate."],
                )
            return Text("The sum is 5.")
        return Text("It is 5.")

    stub_model.responder = reply
    run, _ = services.run_create(user=user, message="add 2 and 3")
    execute_run(run.pk)
    run.refresh_from_db()
    events = [event.data for event in RunEvent.objects.filter(run=run).order_by("seq")]

    executor = Agent.objects.get(run=run, role="executor")
    thinking = thinking_of(events, "executor")
    assert {e["agent_id"] for e in thinking} == {str(executor.pk)}
    assert joined(thinking, "thinking") == "Two numbers; use calculate.I will add them with the calculator first."
    kinds = [e["type"] for e in events]
    last_thinking = max(i for i, e in enumerate(events) if e["type"] == "thinking")
    assert last_thinking < kinds.index("tool_call"), "its words come before the call they announce"
    # Its last reply is the step's result, not thinking; nothing of it reaches the answer.
    [result] = [e for e in events if e["type"] == "executor_result"]
    assert result["result"] == "The sum is 5."
    assert "The sum is 5." not in joined(events, "thinking")
    assert joined(events) == "It is 5." == run.assistant_message.content
    assert "calculator first" not in last_user_text(stub_model.requests[-1]), "nor in the synthesis request"
