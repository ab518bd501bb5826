"""The engine end to end: planner, executors, tools and events, through the real openai SDK over HTTP."""

import json
import threading
import time

import pytest

from agents.models import Agent, AgentMessage, Execution, Memory, PlanStep, Run, RunEvent
from agents.runs import services
from agents.runtime.worker import execute_run
from sessions.models import Message
from tests.factories import run_message, stored_events, types
from tests.support.stub_model import (
    Cut,
    Error,
    Hang,
    Text,
    ToolCalls,
    is_executor,
    is_routing,
    is_synthesis,
    last_user_text,
    plan,
)

pytestmark = pytest.mark.django_db(transaction=True)


def answer_text(events: list[dict]) -> str:
    return "".join(event["delta"] for event in events if event["type"] == "text")


def assert_well_formed(run: Run, events: list[dict]) -> None:
    """Seq 1..n without gaps, session first, exactly one done, last, matching the run."""
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "session"
    assert types(events).count("done") == 1 and events[-1]["type"] == "done"
    assert all(event["run_id"] == str(run.pk) and event["session_id"] == str(run.session_id) for event in events)
    assert events[-1]["status"] == run.status


def complex_responder(executor_reply=None, synthesis="Final: tea for calm mornings."):
    """Plan x and y in parallel and r after both; executors answer with their step title."""

    def reply(request):
        if is_routing(request):
            return plan(
                "Compare tea and coffee",
                [("x", "Research tea"), ("y", "Research coffee"), ("r", "Recommend one", ["x", "y"])],
            )
        if is_executor(request):
            if executor_reply is not None:
                return executor_reply(request)
            return Text(f"Result of {last_user_text(request).splitlines()[0]}")
        return Text(synthesis)

    return reply


# --- the three routes ---------------------------------------------------------------------


def test_simple_route_streams_the_answer_and_stores_it(user, stub_model):
    stub_model.queue(Text("Hello! How can I help you today?", usage=(11, 8)))
    run = run_message(user, "hi")
    events = stored_events(run)
    assert_well_formed(run, events)
    assert types(events)[:2] == ["session", "analysis"]
    assert events[1]["strategy"] == "simple"
    assert set(types(events)[2:-1]) == {"text"}
    assert answer_text(events) == "Hello! How can I help you today?"
    assert run.status == Run.Status.COMPLETED and run.route == Run.Route.SIMPLE
    assert (run.prompt_tokens, run.completion_tokens, run.llm_calls) == (11, 8, 1)
    reply = Message.objects.get(pk=events[-1]["message_id"])
    assert reply.role == "assistant" and reply.content == "Hello! How can I help you today?"
    assert reply.total_tokens == 19 and run.assistant_message_id == reply.pk
    # gpt-4o-mini (the default model): $0.15 and $0.60 per million prompt and completion tokens.
    assert events[-1]["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 8,
        "total_tokens": 19,
        "llm_calls": 1,
        "cost_usd": 0.00000645,
        "cost_known": True,
    }
    # The first call offered the user's tools and create_plan, streamed, with usage requested.
    first = stub_model.requests[0]
    assert first["stream"] is True and first["stream_options"] == {"include_usage": True}
    assert "create_plan" in [tool["function"]["name"] for tool in first["tools"]]
    assert "remember" in [tool["function"]["name"] for tool in first["tools"]]


def test_text_deltas_are_coalesced_not_one_event_per_token(user, stub_model):
    words = ["word "] * 300
    stub_model.queue(Text(chunks=words))
    run = run_message(user, "talk a lot")
    events = stored_events(run)
    text_events = [event for event in events if event["type"] == "text"]
    assert answer_text(events) == "".join(words)
    assert len(text_events) < len(words) / 10


def test_tool_route_runs_the_tool_and_answers_from_its_result(user, stub_model):
    stub_model.queue(ToolCalls([("calculate", {"expression": "17*23"})]), Text("17*23 is 391."))
    run = run_message(user, "what is 17*23")
    events = stored_events(run)
    assert_well_formed(run, events)
    assert types(events)[:4] == ["session", "analysis", "tool_call", "tool_result"]
    assert events[1]["strategy"] == "tool"
    call, result = events[2], events[3]
    assert call["tool"] == "calculate" and call["arguments"] == {"expression": "17*23"}
    assert call["agent_kind"] == "planner" and call["call_id"] == result["call_id"]
    assert result["ok"] is True and result["result"]["result"] == 391
    assert answer_text(events) == "17*23 is 391."
    # The model saw the tool's result in the second call.
    follow_up = stub_model.requests[1]["messages"]
    assert follow_up[-1]["role"] == "tool" and "391" in follow_up[-1]["content"]
    assert run.route == Run.Route.TOOL and run.llm_calls == 2


def test_planner_write_tool_acts_for_the_user(user, stub_model, settings):
    settings.AGENT_APPROVAL = "none"  # approvals: tests/agents/engine/test_approvals.py
    stub_model.queue(ToolCalls([("remember", {"content": "likes green tea"})]), Text("Noted."))
    run = run_message(user, "remember that I like green tea")
    assert run.status == Run.Status.COMPLETED
    assert list(Memory.objects.filter(user=user).values_list("content", flat=True)) == ["likes green tea"]


def test_malformed_tool_arguments_go_back_to_the_model_as_an_error(user, stub_model):
    stub_model.queue(ToolCalls([("calculate", '{"expression": ')]), Text("Sorry, let me answer without it."))
    run = run_message(user, "what is 2+2")
    events = stored_events(run)
    result = next(event for event in events if event["type"] == "tool_result")
    assert result["ok"] is False and result["error"]["code"] == "invalid_arguments"
    assert stub_model.requests[1]["messages"][-1]["role"] == "tool"
    assert "invalid_arguments" in stub_model.requests[1]["messages"][-1]["content"]
    assert run.status == Run.Status.COMPLETED


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_in_tool_arguments_do_not_crash_the_run(user, stub_model, constant):
    # Python's json accepts NaN/Infinity, JSON (and the event store's JSON column) does not.
    stub_model.queue(ToolCalls([("calculate", f'{{"expression": {constant}}}')]), Text("Could not compute it."))
    run = run_message(user, "what is nan")
    events = stored_events(run)
    assert_well_formed(run, events)
    call = next(event for event in events if event["type"] == "tool_call")
    assert call["arguments"] == f'{{"expression": {constant}}}'  # kept as the raw text the model sent
    result = next(event for event in events if event["type"] == "tool_result")
    assert result["ok"] is False and result["error"]["code"] == "invalid_arguments"
    assert run.status == Run.Status.COMPLETED


@pytest.mark.parametrize(
    "arguments",
    ['{"expression": "1\\u0000+1"}', '{"expression": "1\\ud800+1"}', '{"expression": "1\x00+1"}'],
)
def test_tool_arguments_no_database_can_store_do_not_crash_the_run(user, stub_model, arguments):
    # Escapes that decode to NUL or a lone surrogate, and a raw NUL (invalid JSON) the gateway strips.
    stub_model.queue(ToolCalls([("calculate", arguments)]), Text("Could not compute it."))
    run = run_message(user, "what is 1+1")
    events = stored_events(run)
    assert_well_formed(run, events)
    assert run.status == Run.Status.COMPLETED
    call = next(event for event in events if event["type"] == "tool_call")
    assert "\x00" not in json.dumps(call["arguments"], ensure_ascii=False)
    assert AgentMessage.objects.filter(run=run, role="tool").count() == 1


@pytest.mark.parametrize(("sent", "stored"), [("a\x00b", "ab"), ("a\ud800b", "a?b")])
def test_answer_text_no_database_can_store_is_cleaned_not_fatal(user, stub_model, sent, stored):
    # NUL breaks PostgreSQL text and jsonb; a lone surrogate (a valid JSON escape) has no UTF-8 form.
    stub_model.queue(Text(sent))
    run = run_message(user, "say something odd")
    events = stored_events(run)
    assert_well_formed(run, events)
    assert answer_text(events) == stored
    assert run.status == Run.Status.COMPLETED
    assert Message.objects.get(pk=events[-1]["message_id"]).content == stored


def test_an_answer_that_cannot_be_stored_still_ends_the_run_with_done(user, stub_model, monkeypatch):
    from sessions import services as session_services

    def broken_record_answer(**kwargs):
        if kwargs["message"] is not None and kwargs["message"].role == Message.Role.ASSISTANT:
            raise RuntimeError("the database refused the answer")
        return real_record_answer(**kwargs)

    real_record_answer = session_services.session_record_answer
    monkeypatch.setattr(session_services, "session_record_answer", broken_record_answer)
    stub_model.queue(Text("An answer."))
    run = run_message(user, "hi")
    events = stored_events(run)
    assert_well_formed(run, events)
    assert types(events)[-2:] == ["error", "done"]
    assert events[-2]["code"] == "internal_error" and events[-2]["fatal"] is True
    assert events[-1]["status"] == "failed" and events[-1]["message_id"] is None
    assert run.status == Run.Status.FAILED


def test_complex_route_events_in_order_and_everything_stored(user, stub_model):
    stub_model.responder = complex_responder()
    run = run_message(user, "compare tea and coffee")
    events = stored_events(run)
    assert_well_formed(run, events)
    assert types(events)[:3] == ["session", "analysis", "plan_created"]
    assert events[1]["strategy"] == "complex"
    plan_event = events[2]["plan"]
    steps = {step["key"]: step for step in plan_event["steps"]}
    assert [step["key"] for step in plan_event["steps"]] == ["x", "y", "r"]
    assert steps["r"]["depends_on"] == [steps["x"]["id"], steps["y"]["id"]]
    assert all(step["status"] == "pending" for step in plan_event["steps"])

    # Per step: start, executor spawned, executor result, complete, in that order; r starts after x and y complete.
    position = {}
    for index, event in enumerate(events):
        step_id = (event.get("step") or {}).get("id") or event.get("step_id")
        if step_id:
            position.setdefault((step_id, event["type"]), index)
    for step in plan_event["steps"]:
        order = [position[(step["id"], kind)] for kind in ("step_start", "executor_spawned", "executor_result")]
        order.append(position[(step["id"], "step_complete")])
        assert order == sorted(order), step["key"]
    assert position[(steps["r"]["id"], "step_start")] > position[(steps["x"]["id"], "step_complete")]
    assert position[(steps["r"]["id"], "step_start")] > position[(steps["y"]["id"], "step_complete")]
    # The answer comes after every step, from the synthesis call.
    first_text = types(events).index("text")
    assert first_text > max(i for i, e in enumerate(events) if e["type"] == "step_complete")
    assert answer_text(events) == "Final: tea for calm mornings."

    assert run.route == Run.Route.COMPLEX and run.status == Run.Status.COMPLETED
    assert list(run.plan.steps.values_list("status", flat=True)) == ["completed"] * 3
    executors = Agent.objects.filter(run=run, role="executor")
    assert executors.count() == 3 and all(agent.permission == "read_only" for agent in executors)
    assert Execution.objects.filter(run=run, status="completed").count() == 3
    # Every LLM call is stored with its tokens; the run's usage is their sum.
    calls = AgentMessage.objects.filter(run=run, role="assistant")
    assert calls.count() == run.llm_calls == 5
    assert sum(call.prompt_tokens + call.completion_tokens for call in calls) == run.total_tokens > 0
    assert all(call.latency_ms is not None for call in calls)
    executor_usage = [e["usage"]["total_tokens"] for e in events if e["type"] == "executor_result"]
    assert all(tokens > 0 for tokens in executor_usage)
    # Executors were offered read-only tools only, with the executor model.
    for request in stub_model.requests:
        if is_executor(request):
            assert set(tool["function"]["name"] for tool in request["tools"]).isdisjoint(
                {"remember", "forget", "rename_session", "create_plan"}
            )
    assert sum(1 for request in stub_model.requests if is_synthesis(request)) == 1


def test_independent_steps_run_at_the_same_time(user, stub_model):
    # Each executor call waits for the other to arrive: run one after the other, the first would
    # time out (BrokenBarrierError fails the test through the stub), so both must be in flight at once.
    both_in_flight = threading.Barrier(2)

    def executor_reply(request):
        both_in_flight.wait(timeout=10)
        return Text("done")

    stub_model.responder = lambda request: (
        plan("Two things", [("a", "Research A"), ("b", "Research B")])
        if is_routing(request)
        else executor_reply(request)
        if is_executor(request)
        else Text("Both done.")
    )
    run, _ = services.run_create(user=user, message="do two things")
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    executions = list(Execution.objects.filter(run=run))
    assert [e.status for e in executions] == ["completed", "completed"]
    first_finish = min(e.finished_at for e in executions)
    last_start = max(e.started_at for e in executions)
    assert last_start < first_finish, "the executions did not overlap"


def test_dependent_step_sees_its_dependencies_results(user, stub_model):
    seen = {}

    def executor_reply(request):
        task = last_user_text(request)
        seen[task.splitlines()[0]] = task
        if "Research tea" in task:
            return Text("TEA-FACT-42")
        return Text("ok")

    stub_model.responder = complex_responder(executor_reply)
    run = run_message(user, "compare tea and coffee")
    assert run.status == Run.Status.COMPLETED
    assert "TEA-FACT-42" in seen["Step: Recommend one"]
    assert "TEA-FACT-42" not in seen["Step: Research coffee"]
    synthesis = next(request for request in stub_model.requests if is_synthesis(request))
    assert "TEA-FACT-42" in last_user_text(synthesis)


def test_failed_step_skips_its_dependents_and_the_planner_still_synthesises(user, stub_model):
    def executor_reply(request):
        if "Research tea" in last_user_text(request):
            return Error(400, "bad request for tea")
        return Text("coffee facts")

    stub_model.responder = complex_responder(executor_reply, synthesis="Only coffee was researched.")
    run = run_message(user, "compare tea and coffee")
    events = stored_events(run)
    assert run.status == Run.Status.COMPLETED
    statuses = dict(run.plan.steps.values_list("key", "status"))
    assert statuses == {"x": "failed", "y": "completed", "r": "skipped"}
    assert not Execution.objects.filter(run=run, step__key="r").exists()
    completes = {e["step"]["key"]: e["step"] for e in events if e["type"] == "step_complete"}
    assert completes["x"]["status"] == "failed" and "bad_request" in completes["x"]["result"]
    assert completes["r"]["status"] == "skipped"
    synthesis = next(request for request in stub_model.requests if is_synthesis(request))
    assert "coffee facts" in last_user_text(synthesis) and "[failed]" in last_user_text(synthesis)
    assert answer_text(events) == "Only coffee was researched."


def test_executor_naming_a_write_tool_is_refused_and_nothing_is_written(user, stub_model):
    def executor_reply(request):
        if request["messages"][-1]["role"] == "tool":
            return Text("I could not save it.")
        return ToolCalls([("remember", {"content": "sneaky write"})])

    stub_model.responder = complex_responder(executor_reply)
    run = run_message(user, "compare tea and coffee")
    events = stored_events(run)
    refused = [e for e in events if e["type"] == "tool_result" and e["tool"] == "remember"]
    assert len(refused) == 3
    assert all(e["ok"] is False and e["error"]["code"] == "tool_not_allowed" for e in refused)
    calls = [e for e in events if e["type"] == "tool_call" and e["tool"] == "remember"]
    assert all(call["agent_kind"] == "executor" for call in calls)
    assert not Memory.objects.exists()
    assert run.status == Run.Status.COMPLETED


@pytest.mark.parametrize(
    ("bad_plan", "problem"),
    [
        (plan("cycle", [("a", "A", ["b"]), ("b", "B", ["a"])]), "cycle"),
        (plan("unknown", [("a", "A", ["ghost"])]), "unknown step 'ghost'"),
        (plan("big", [(str(i), f"S{i}") for i in range(9)]), "at most 8 steps"),
    ],
)
def test_invalid_plan_goes_back_to_the_planner_which_fixes_it(user, stub_model, bad_plan, problem):
    stub_model.queue(bad_plan, plan("fixed", [("only", "The one step")]), Text("step result"), Text("Answer."))
    run = run_message(user, "plan something")
    events = stored_events(run)
    assert run.status == Run.Status.COMPLETED
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == "invalid_plan" and errors[0]["fatal"] is False
    assert problem in errors[0]["message"]
    second_call = stub_model.requests[1]["messages"]
    assert second_call[-1]["role"] == "tool" and problem in second_call[-1]["content"]
    assert list(run.plan.steps.values_list("key", flat=True)) == ["only"]
    assert types(events).count("plan_created") == 1


def test_planner_that_never_stops_calling_tools_ends_with_a_clear_error(user, stub_model, settings):
    settings.AGENT_MAX_ITERATIONS = 3
    stub_model.responder = lambda request: ToolCalls([("calculate", {"expression": "1+1"})])
    run = run_message(user, "loop forever")
    events = stored_events(run)
    assert run.status == Run.Status.FAILED and run.error_code == "iteration_limit"
    assert events[-2]["type"] == "error" and events[-2]["fatal"] is True
    assert events[-1]["status"] == "failed"
    assert len(stub_model.requests) == 3


# --- model failures -------------------------------------------------------------------------


def test_429_twice_then_success_emits_retry_events(user, stub_model):
    stub_model.queue(Error(429, headers={"Retry-After": "0"}), Error(429, headers={"Retry-After": "0"}), Text("Hi!"))
    run = run_message(user, "hi")
    events = stored_events(run)
    assert_well_formed(run, events)
    retries = [e for e in events if e["type"] == "retry"]
    assert [(e["attempt"], e["code"]) for e in retries] == [(1, "rate_limited"), (2, "rate_limited")]
    assert answer_text(events) == "Hi!" and run.status == Run.Status.COMPLETED
    assert len(stub_model.requests) == 3


def test_500_on_every_try_fails_the_run(user, stub_model, settings):
    settings.LLM_MAX_RETRIES = 2
    stub_model.responder = lambda request: Error(500, "upstream down")
    run = run_message(user, "hi")
    events = stored_events(run)
    assert_well_formed(run, events)
    assert len(stub_model.requests) == 3
    assert types(events) == ["session", "retry", "retry", "error", "done"]
    assert events[-2]["code"] == "server_error" and events[-2]["fatal"] is True
    assert run.status == Run.Status.FAILED and events[-1]["message_id"] is None


def test_timeout_fails_the_run_with_a_timeout_error(user, stub_model, settings):
    settings.LLM_TIMEOUT = 0.3
    settings.LLM_MAX_RETRIES = 0
    stub_model.queue(Hang(2.0))
    started = time.monotonic()
    run = run_message(user, "hi")
    assert time.monotonic() - started < 1.8
    events = stored_events(run)
    assert run.status == Run.Status.FAILED and run.error_code == "timeout"
    assert events[-2]["type"] == "error" and events[-2]["code"] == "timeout"


def test_stream_cut_mid_answer_is_not_retried_and_keeps_what_was_said(user, stub_model):
    stub_model.queue(Cut(after_chunks=3, content="one two three four five six"), Text("never used"))
    run = run_message(user, "hi")
    events = stored_events(run)
    assert_well_formed(run, events)
    assert len(stub_model.requests) == 1
    assert run.status == Run.Status.FAILED and run.error_code == "stream_broken"
    assert answer_text(events) == "one two three "
    # What the user saw is kept in the history, and the run points at it.
    answer = Message.objects.get(pk=events[-1]["message_id"])
    assert (answer.content, answer.status) == ("one two three ", Message.Status.INCOMPLETE)


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_in_the_middle_of_a_complex_run(user, stub_model):
    def executor_reply(request):
        return Text(chunks=["slow "] * 100, chunk_delay=0.05)

    stub_model.responder = complex_responder(executor_reply)
    run, _ = services.run_create(user=user, message="compare tea and coffee")
    worker = threading.Thread(target=execute_run, args=(run.pk,))
    worker.start()
    deadline = time.monotonic() + 10
    while not RunEvent.objects.filter(run=run, type="executor_spawned").count() >= 2:
        assert time.monotonic() < deadline, "executors never started"
        time.sleep(0.02)
    cancelled_at = time.monotonic()
    services.run_cancel(run=run)
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert time.monotonic() - cancelled_at < 3, "the run took too long to notice the cancel"
    run.refresh_from_db()
    events = stored_events(run)
    assert_well_formed(run, events)
    assert run.status == Run.Status.CANCELLED and events[-1]["status"] == "cancelled"
    statuses = dict(run.plan.steps.values_list("key", "status"))
    assert statuses == {"x": "cancelled", "y": "cancelled", "r": "cancelled"}
    assert set(Execution.objects.filter(run=run).values_list("status", flat=True)) == {"cancelled"}
    assert not any(is_synthesis(request) for request in stub_model.requests)
    assert not PlanStep.objects.filter(plan__run=run, status__in=["pending", "running"]).exists()


def test_cancel_before_start_ends_cancelled_without_calling_the_model(user, stub_model):
    run, _ = services.run_create(user=user, message="hi")
    services.run_cancel(run=run)
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert types(stored_events(run)) == ["session", "done"]
    assert stub_model.requests == []


# --- history -------------------------------------------------------------------------------------


def test_planner_sees_the_session_history_trimmed_to_its_budget(user, stub_model, settings):
    settings.AGENT_HISTORY_TOKENS = 30
    stub_model.responder = lambda request: Text("ok")
    first = run_message(user, "first message " + "x" * 200)
    second = run_message(user, "second message", session_id=first.session_id)
    run_message(user, "third message", session_id=second.session_id)
    messages = stub_model.requests[-1]["messages"]
    contents = [m["content"] for m in messages if m["role"] in {"user", "assistant"}]
    assert contents[-1] == "third message"
    assert "second message" in contents and "ok" in contents
    assert not any(content.startswith("first message") for content in contents), "history not trimmed"


def test_tool_call_arguments_are_stored_in_the_conversation(user, stub_model):
    stub_model.queue(ToolCalls([("calculate", {"expression": "6*7"})]), Text("42"))
    run = run_message(user, "6*7?")
    planner = Agent.objects.get(run=run, role="planner")
    rows = list(AgentMessage.objects.filter(agent=planner).values_list("role", flat=True))
    assert rows == ["system", "user", "assistant", "tool", "assistant"]
    call = AgentMessage.objects.get(agent=planner, role="assistant", tool_calls__isnull=False)
    assert json.loads(call.tool_calls[0]["arguments"]) == {"expression": "6*7"}


def test_deleting_the_session_mid_run_stops_the_run_quietly(user, stub_model, caplog):
    from sessions import services as session_services

    stub_model.responder = complex_responder(lambda request: Text(chunks=["slow "] * 100, chunk_delay=0.05))
    run, _ = services.run_create(user=user, message="compare tea and coffee")
    worker = threading.Thread(target=execute_run, args=(run.pk,))
    worker.start()
    deadline = time.monotonic() + 10
    while not RunEvent.objects.filter(run=run, type="executor_spawned").exists():
        assert time.monotonic() < deadline, "executors never started"
        time.sleep(0.02)
    session_services.session_delete(session=run.session)
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert not Run.objects.filter(pk=run.pk).exists()
    assert not Message.objects.filter(session_id=run.session_id).exists()
    assert not [record for record in caplog.records if record.levelname in {"ERROR", "CRITICAL"}]
    assert not any(is_synthesis(request) for request in stub_model.requests)
