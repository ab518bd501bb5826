"""A model server that fails, over a real ASGI server and the real engine (issue 14).

Its own error text never reaches users or what they can read back: they see
a generic message naming the error's class and the run as a reference, the
log keeps the text with its secrets masked. A call cut mid-answer is stored
and charged to the run and the user's token budget like any other.
"""

import json
import logging

import pytest

from agents.exceptions import LLMError
from agents.llm.tokens import count_prompt_tokens, estimate_tokens
from agents.models import AgentMessage, Execution, PlanStep, Run, RunEvent
from agents.runs import limits
from sessions.models import Message
from tests.support.live_server import wait_until
from tests.support.stub_model import Cut, Error, Raw, Text, is_executor, is_routing, last_user_text, plan

pytestmark = pytest.mark.django_db(transaction=True)

LEAKY = (
    "Incorrect API key provided: sk-live-abc123def456ghi789jkl. "
    "Upstream postgres://admin:secret@db:5432/x said: Authorization: Bearer tok_9f8e7d6c5b4a"
)
SECRETS = ("sk-live-abc123", "admin:secret", "secret@db", "tok_9f8e7d6c5b4a", "Incorrect API key")


def chunk(delta: dict) -> dict:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta}],
    }


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}: {text[:500]}"


def replay(client, run: Run) -> str:
    with client.join(run.pk, last_event_id=0) as stream:
        body = stream.read_rest()
    assert body.count('"type":"done"') == 1, "the whole run was replayed"
    return body


def everything_users_can_read(client, run: Run, stream_body: str) -> dict[str, str]:
    """Return every response body and stored user-visible field of the run, by where it comes from."""
    run.refresh_from_db()
    session = run.session_id
    return {
        "the stream": stream_body,
        "a joined stream": replay(client, run),
        "GET run": client.get(f"/api/agent/runs/{run.pk}").text,
        "GET session runs": client.get(f"/api/sessions/{session}/runs/").text,
        "GET session messages": client.get(f"/api/sessions/{session}/messages/").text,
        "GET session": client.get(f"/api/sessions/{session}/").text,
        "Run.error_message": run.error_message,
        "RunEvent.data": json.dumps(list(RunEvent.objects.filter(run=run).values_list("data", flat=True))),
        "PlanStep.error and result": json.dumps(list(PlanStep.objects.filter(plan__run=run).values("error", "result"))),
        "Execution.error and result": json.dumps(list(Execution.objects.filter(run=run).values("error", "result"))),
        "Message.content": json.dumps(
            list(Message.objects.filter(session_id=session).values_list("content", flat=True))
        ),
    }


def test_provider_error_text_reaches_no_user_and_is_logged_masked(stub_model, asgi_live_server, user, settings, caplog):
    settings.LLM_MAX_RETRIES = 1
    caplog.set_level(logging.INFO)
    stub_model.queue(Error(429, LEAKY, headers={"Retry-After": "0"}), Error(401, LEAKY))
    client = asgi_live_server.client(user)

    with client.send("hi") as stream:
        events = stream.events()
        body = stream.raw
    run = Run.objects.get(pk=events[0]["run_id"])

    for where, text in everything_users_can_read(client, run, body).items():
        assert_no_secret(where, text)
    assert [event["type"] for event in events] == ["session", "retry", "error", "done"]
    retry, error = events[1], events[2]
    assert retry["code"] == "rate_limited" and retry["attempt"] == 1 and "delay_ms" in retry and retry["agent_id"]
    assert retry["message"] == f"{LLMError.MESSAGES['rate_limited'][:-1]} (reference: run {run.pk})."
    assert error["code"] == "auth_failed" and error["fatal"] is True
    assert error["message"] == f"{LLMError.MESSAGES['auth_failed'][:-1]} (reference: run {run.pk})."
    assert run.status == Run.Status.FAILED and run.error_code == "auth_failed"
    assert run.error_message == error["message"]
    # Operators find the server's words in the log, masked, by the reference users were given.
    assert f"Run {run.pk}, agent {retry['agent_id']}: model call failed (auth_failed): " in caplog.text
    assert "Incorrect API key provided: sk-***" in caplog.text
    assert "postgres://***@db:5432/x" in caplog.text and "Bearer ***" in caplog.text
    assert_no_secret("the log", caplog.text.replace("Incorrect API key", ""))


def test_executor_failures_keep_provider_text_out_of_steps_executions_and_the_answer(
    stub_model, asgi_live_server, user, settings, caplog
):
    settings.LLM_MAX_RETRIES = 1
    caplog.set_level(logging.INFO)

    def reply(request):
        if is_routing(request):
            return plan("Two lookups", [("x", "Look up X"), ("y", "Look up Y")])
        if is_executor(request):
            if "Look up X" in last_user_text(request):
                return Error(500, LEAKY)  # before any output: retried, then fails the step
            # After some output: an error event inside the stream, not retried.
            return Raw([chunk({"content": "Partial findings on Y"}), {"error": {"message": LEAKY, "type": "server"}}])
        return Text("Neither lookup worked.")

    stub_model.responder = reply
    client = asgi_live_server.client(user)
    with client.send("look up X and Y") as stream:
        events = stream.events()
        body = stream.raw
    run = Run.objects.get(pk=events[0]["run_id"])

    for where, text in everything_users_can_read(client, run, body).items():
        assert_no_secret(where, text)
    # The step errors go back to the model for the answer: without the server's text either.
    for request in stub_model.requests:
        assert_no_secret("a later model request", json.dumps(request))
    assert run.status == Run.Status.COMPLETED
    steps = {step.key: step for step in PlanStep.objects.filter(plan__run=run)}
    assert {key: step.status for key, step in steps.items()} == {"x": "failed", "y": "failed"}
    reference = f"(reference: run {run.pk})."
    assert steps["x"].error == f"{LLMError.MESSAGES['server_error'][:-1]} {reference}"
    assert steps["y"].error == steps["x"].error
    assert set(Execution.objects.filter(run=run).values_list("error", flat=True)) == {steps["x"].error}
    completes = [e["step"] for e in events if e["type"] == "step_complete"]
    results = [e for e in events if e["type"] == "executor_result"]
    assert {c["result"] for c in completes} == {steps["x"].error}
    assert {r["result"] for r in results} == {steps["x"].error}
    assert [e["code"] for e in events if e["type"] == "retry"] == ["server_error"]
    assert "sk-***" in caplog.text
    assert_no_secret("the log", caplog.text.replace("Incorrect API key", ""))


def test_a_stream_cut_mid_answer_is_stored_and_charged_to_the_run_and_the_budget(stub_model, asgi_live_server, user):
    stub_model.queue(Cut(after_chunks=4, content="Once upon a time there was a cut"))
    client = asgi_live_server.client(user)

    with client.send("Tell me a story") as stream:
        events = stream.events()
    run = Run.objects.get(pk=events[0]["run_id"])

    assert run.status == Run.Status.FAILED and run.error_code == "stream_broken"
    [request] = stub_model.requests
    prompt = count_prompt_tokens(request["messages"])
    assert run.total_tokens > prompt > 0, "the cut call is charged: its prompt and what it streamed"
    # The reservation (about 1000) is replaced by the run's usage once the runner settles it after `done`.
    wait_until(lambda: limits.budget_used(user_id=user.pk) == run.total_tokens, "the budget holds what the call used")
    [cut] = AgentMessage.objects.filter(run=run, role=AgentMessage.Role.ASSISTANT)
    assert cut.content == "Once upon a time "
    assert cut.finish_reason == "error"
    assert cut.prompt_tokens >= prompt > 0
    assert cut.completion_tokens == estimate_tokens("Once upon a time ")
    assert run.llm_calls == 1
    assert run.total_tokens == cut.prompt_tokens + cut.completion_tokens
    assert events[-1]["usage"]["total_tokens"] == run.total_tokens


def test_an_executor_cut_mid_answer_counts_in_its_usage_and_the_runs(stub_model, asgi_live_server, user, settings):
    settings.AGENT_MAX_REPLANS = 0  # the calls counted below are these three; replanning is tested on its own

    def reply(request):
        if is_routing(request):
            return plan("One lookup", [("x", "Look up X")])
        if is_executor(request):
            return Cut(after_chunks=3, content="Findings about X are coming")
        return Text("Done.", usage=(10, 2))

    stub_model.responder = reply
    client = asgi_live_server.client(user)
    with client.send("look up X") as stream:
        events = stream.events()
    run = Run.objects.get(pk=events[0]["run_id"])

    [result] = [e for e in events if e["type"] == "executor_result"]
    assert result["status"] == "failed"
    assert result["usage"]["total_tokens"] > 0, "the cut executor call is charged"
    execution = Execution.objects.get(run=run)
    cut = AgentMessage.objects.get(agent_id=execution.agent_id, role=AgentMessage.Role.ASSISTANT)
    assert cut.content == "Findings about X " and cut.finish_reason == "error"
    assert result["usage"]["total_tokens"] == execution.total_tokens == cut.prompt_tokens + cut.completion_tokens > 0
    assert result["usage"]["llm_calls"] == 1
    calls = AgentMessage.objects.filter(run=run, role=AgentMessage.Role.ASSISTANT)
    assert run.total_tokens == sum(m.prompt_tokens + m.completion_tokens for m in calls)
    assert run.llm_calls == 3  # routing, the cut executor call, synthesis


def test_a_run_cancelled_mid_answer_is_charged_for_what_was_streamed(stub_model, asgi_live_server, user):
    stub_model.queue(Text(chunks=["word "] * 300, chunk_delay=0.02, usage=None))
    client = asgi_live_server.client(user)

    with client.send("Talk for a while") as stream:
        first = stream.events(limit=3)
        assert first[-1]["type"] == "text", first
        run_id = first[0]["run_id"]
        assert client.post(f"/api/agent/runs/{run_id}/cancel").status_code == 202
        rest = stream.events()
    run = Run.objects.get(pk=run_id)

    assert rest[-1]["type"] == "done" and rest[-1]["status"] == "cancelled"
    streamed = "".join(event["delta"] for event in [*first, *rest] if event["type"] == "text")
    [cut] = AgentMessage.objects.filter(run=run, role=AgentMessage.Role.ASSISTANT)
    assert cut.finish_reason == "cancelled"
    assert cut.content.startswith(streamed) and cut.content.count("word") < 300
    prompt = count_prompt_tokens(stub_model.requests[0]["messages"])
    assert run.total_tokens == cut.prompt_tokens + cut.completion_tokens > prompt
    assert rest[-1]["usage"]["total_tokens"] == run.total_tokens
    wait_until(lambda: limits.budget_used(user_id=user.pk) == run.total_tokens, "the budget holds what the call used")
