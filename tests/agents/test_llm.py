"""The LLM gateway, through the real openai SDK over real HTTP against the stub model."""

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from agents.exceptions import LLMError, RunCancelled
from agents.llm import gateway as llm
from agents.llm.offline import count_prompt_tokens
from tests.support.stub_model import (
    Cut,
    Error,
    Hang,
    Raw,
    StubModel,
    Text,
    ToolCalls,
    is_executor,
    is_routing,
    is_synthesis,
    last_user_text,
    plan,
)

TOOLS = [
    {"type": "function", "function": {"name": "calculate", "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "get_current_time", "parameters": {"type": "object", "properties": {}}}},
]
USER = [{"role": "user", "content": "Say something"}]


def call(**kwargs):
    """Call chat_stream with defaults; return (result, deltas, retries)."""
    deltas, retries = [], []
    result = llm.chat_stream(
        model=kwargs.pop("model", "stub-model"),
        messages=kwargs.pop("messages", USER),
        on_text=deltas.append,
        on_retry=lambda attempt, error, delay: retries.append((attempt, error.code, delay)),
        **kwargs,
    )
    return result, deltas, retries


def chunk(delta: dict, finish_reason=None) -> dict:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}


# --- Streaming ---------------------------------------------------------------------------


def test_text_deltas_arrive_in_order_and_usage_comes_from_the_usage_chunk(stub_model):
    stub_model.queue(Text("Hello there, general Kenobi. You are a bold one.", chunks=4, usage=(11, 7)))

    result, deltas, retries = call()

    assert deltas == ["Hello there, general ", "Kenobi. You ", "are a ", "bold one."]
    assert result.content == "".join(deltas)
    assert result.usage == llm.Usage(prompt_tokens=11, completion_tokens=7, total_tokens=18)
    assert result.finish_reason == "stop"
    assert result.tool_calls == []
    assert result.model == "stub-model"
    assert retries == []
    [request] = stub_model.requests
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert request["messages"] == USER
    assert "tools" not in request
    assert stub_model.request_headers[0]["authorization"] == "Bearer test"


def test_usage_is_zero_when_the_server_sends_none(stub_model):
    stub_model.queue(Text("No usage here", usage=None))

    result, _, _ = call()

    assert result.content == "No usage here"
    assert result.usage == llm.Usage(0, 0, 0)


def test_parallel_tool_calls_with_interleaved_fragments_are_assembled(stub_model):
    stub_model.queue(
        ToolCalls(
            [
                ("calculate", {"expression": "17*23"}, "call_a"),
                ("get_current_time", {"timezone": "Asia/Tokyo"}, "call_b"),
            ],
            fragments=5,
            interleave=True,
        )
    )

    result, deltas, _ = call(tools=TOOLS)

    assert deltas == []
    assert result.finish_reason == "tool_calls"
    assert [(c.id, c.name) for c in result.tool_calls] == [("call_a", "calculate"), ("call_b", "get_current_time")]
    assert json.loads(result.tool_calls[0].arguments) == {"expression": "17*23"}
    assert json.loads(result.tool_calls[1].arguments) == {"timezone": "Asia/Tokyo"}
    assert stub_model.requests[0]["tools"] == TOOLS


def test_tool_arguments_are_returned_raw_even_when_not_json(stub_model):
    stub_model.queue(ToolCalls([("calculate", '{"expression": "1+', "call_x")]))

    result, _, _ = call(tools=TOOLS)

    assert result.tool_calls == [llm.ToolCall(id="call_x", name="calculate", arguments='{"expression": "1+')]


def test_latency_is_measured(stub_model):
    stub_model.queue(Text("slow start", delay=0.15))

    result, _, _ = call()

    assert result.latency_ms >= 150


# --- Retries -----------------------------------------------------------------------------


def test_rate_limit_twice_then_success(stub_model):
    stub_model.queue(
        Error(429, "slow down", headers={"Retry-After": "0"}),
        Error(429, "slow down", headers={"Retry-After": "0"}),
        Text("Finally"),
    )

    result, _, retries = call()

    assert result.content == "Finally"
    assert retries == [(1, "rate_limited", 0.0), (2, "rate_limited", 0.0)]
    assert len(stub_model.requests) == 3


def test_retry_after_is_honoured_but_capped(stub_model, settings, monkeypatch):
    settings.LLM_MAX_RETRIES = 1
    monkeypatch.setattr(llm, "RETRY_AFTER_CAP", 0.05)
    stub_model.queue(Error(429, headers={"Retry-After": "3600"}), Text("ok"))

    started = time.monotonic()
    result, _, retries = call()

    assert result.content == "ok"
    assert retries == [(1, "rate_limited", 0.05)]
    assert time.monotonic() - started < 2


def test_server_error_on_every_try_gives_up_after_max_retries(stub_model, settings):
    settings.LLM_MAX_RETRIES = 3
    stub_model.responder = lambda request: Error(500, "boom")

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "server_error"
    assert caught.value.status_code == 500
    assert "boom" in caught.value.detail
    assert len(stub_model.requests) == 4


def test_backoff_grows_exponentially_with_jitter(stub_model, settings):
    settings.LLM_MAX_RETRIES = 3
    stub_model.responder = lambda request: Error(503)
    retries = []

    with pytest.raises(LLMError):
        llm.chat_stream(model="m", messages=USER, on_retry=lambda a, e, d: retries.append((a, e.code, d)))

    base = llm.RETRY_BASE_DELAY  # made tiny by the fixture
    assert [(attempt, code) for attempt, code, _ in retries] == [
        (1, "server_error"),
        (2, "server_error"),
        (3, "server_error"),
    ]
    for attempt, _, delay in retries:
        full = base * 2 ** (attempt - 1)
        assert 0.75 * full <= delay <= full


def test_connection_refused_is_a_retried_connection_error(settings, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.OPENAI_API_KEY = "test"
    settings.LLM_MAX_RETRIES = 2
    monkeypatch.setattr(llm, "RETRY_BASE_DELAY", 0.01)
    llm.reset_client()
    try:
        with pytest.raises(LLMError) as caught:
            call()
    finally:
        llm.reset_client()
    assert caught.value.code == "connection_error"
    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "bad_request"), (422, "bad_request"), (404, "bad_request"), (401, "auth_failed"), (403, "auth_failed")],
)
def test_client_errors_are_mapped_and_not_retried(stub_model, status, code):
    stub_model.queue(Error(status, "nope"), Text("never sent"))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == code
    assert caught.value.retryable is False
    assert len(stub_model.requests) == 1


# --- Timeouts and broken streams ---------------------------------------------------------


def test_no_answer_within_the_timeout_is_a_timeout(stub_model, settings):
    settings.LLM_TIMEOUT = 0.3
    settings.LLM_MAX_RETRIES = 0
    stub_model.queue(Hang(10))

    started = time.monotonic()
    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 3


def test_timeout_before_any_content_is_retried(stub_model, settings):
    settings.LLM_TIMEOUT = 0.3
    settings.LLM_MAX_RETRIES = 1
    stub_model.queue(Hang(10), Text("Second time lucky"))

    result, _, retries = call()

    assert result.content == "Second time lucky"
    assert [(attempt, code) for attempt, code, _ in retries] == [(1, "timeout")]


def test_stream_stalling_after_content_is_a_timeout_and_not_retried(stub_model, settings):
    settings.LLM_TIMEOUT = 0.3
    stub_model.queue(Hang(10, after_chunks=2), Text("never sent"))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "timeout"
    assert caught.value.retryable is False
    assert len(stub_model.requests) == 1


def test_a_slow_trickle_past_the_call_timeout_is_a_timeout(stub_model, settings):
    # Each gap is shorter than LLM_TIMEOUT, the whole call is not.
    settings.LLM_TIMEOUT = 0.4
    stub_model.queue(Text("one two three four five six seven eight", chunk_delay=0.1))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "timeout"
    assert len(stub_model.requests) == 1


def test_stream_cut_mid_answer_is_stream_broken_and_not_retried(stub_model, settings):
    settings.LLM_MAX_RETRIES = 2
    stub_model.queue(Cut(after_chunks=2, content="The answer is being written and then"), Text("never sent"))
    deltas = []

    with pytest.raises(LLMError) as caught:
        llm.chat_stream(model="m", messages=USER, on_text=deltas.append)

    assert caught.value.code == "stream_broken"
    assert caught.value.retryable is False
    assert deltas == ["The ", "answer "]
    assert len(stub_model.requests) == 1


def test_malformed_chunk_before_content_is_retried(stub_model):
    stub_model.queue(Raw([chunk({"role": "assistant", "content": ""}), "{not json"]), Text("clean"))

    result, _, retries = call()

    assert result.content == "clean"
    assert [(attempt, code) for attempt, code, _ in retries] == [(1, "stream_broken")]


def test_malformed_chunk_after_content_is_stream_broken(stub_model):
    stub_model.queue(Raw([chunk({"content": "Half an"}), "{not json"]), Text("never sent"))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "stream_broken"
    assert len(stub_model.requests) == 1


def test_stream_that_ends_without_finishing_is_stream_broken(stub_model):
    # A clean end of body, but no finish_reason and no [DONE].
    stub_model.queue(Raw([chunk({"content": "Half an answer"})]), Text("never sent"))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "stream_broken"
    assert len(stub_model.requests) == 1


# --- Cancelling --------------------------------------------------------------------------


def test_cancel_between_chunks_raises_run_cancelled(stub_model):
    stub_model.queue(Text("one two three four five six seven eight"))
    deltas = []

    with pytest.raises(RunCancelled):
        llm.chat_stream(model="m", messages=USER, on_text=deltas.append, should_cancel=lambda: len(deltas) >= 2)

    assert deltas == ["one ", "two "]


def test_cancel_during_a_retry_wait_stops_before_the_next_attempt(stub_model):
    stub_model.queue(Error(500), Text("never sent"))
    cancelled = []

    with pytest.raises(RunCancelled):
        llm.chat_stream(
            model="m",
            messages=USER,
            on_retry=lambda attempt, error, delay: cancelled.append(True),
            should_cancel=lambda: bool(cancelled),
        )

    assert len(stub_model.requests) == 1


# --- The client --------------------------------------------------------------------------


def test_one_client_per_process_rebuilt_only_when_settings_change(stub_model, settings):
    stub_model.queue(Text("one"), Text("two"))
    first = llm.get_client()

    call()
    call()

    assert llm.get_client() is first
    assert first.max_retries == 0  # our retries, not the SDK's
    settings.LLM_TIMEOUT = 12.5
    rebuilt = llm.get_client()
    assert rebuilt is not first
    assert llm.get_client() is rebuilt


def test_base_url_without_key_sends_a_placeholder_key(stub_model, settings):
    settings.OPENAI_API_KEY = None
    stub_model.queue(Text("hi"))

    call()

    assert stub_model.request_headers[0]["authorization"] == f"Bearer {llm.PLACEHOLDER_API_KEY}"


def test_openai_provider_without_key_or_url_names_the_variable(settings):
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = None
    settings.OPENAI_API_KEY = None
    llm.reset_client()
    try:
        with pytest.raises(LLMError) as caught:
            call()
    finally:
        llm.reset_client()
    assert caught.value.code == "auth_failed"
    assert "OPENAI_API_KEY" in caught.value.detail


def test_offline_provider_uses_the_in_process_transport(settings):
    settings.LLM_PROVIDER = "offline"
    llm.reset_client()
    try:
        result, deltas, _ = call(messages=[{"role": "user", "content": "hello"}])
    finally:
        llm.reset_client()
    assert str(llm.get_client().base_url).startswith(llm.OFFLINE_BASE_URL)
    assert result.content.startswith("Hello!")
    assert len(deltas) > 1


# --- The stub itself -----------------------------------------------------------------------


def test_stub_answers_parallel_calls_through_a_responder(stub_model):
    arrived = threading.Barrier(4, timeout=5)  # breaks (and fails the test) unless all four are served at once

    def reply(request):
        arrived.wait()
        if is_routing(request):
            return plan(
                "Compare", [("x", "Research X"), ("y", "Research Y", "Look at Y."), ("r", "Recommend", ["x", "y"])]
            )
        if is_executor(request):
            return Text(f"Findings: {last_user_text(request)}")
        assert is_synthesis(request)
        return "The final answer"

    stub_model.responder = reply
    calls = [
        {
            "messages": [{"role": "user", "content": "Compare X and Y"}],
            "tools": [*TOOLS, {**TOOLS[0], "function": {"name": "create_plan"}}],
        },
        {"messages": [{"role": "user", "content": "step x"}], "tools": TOOLS},
        {"messages": [{"role": "user", "content": "step y"}], "tools": TOOLS},
        {"messages": [{"role": "user", "content": "results"}]},
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda kwargs: llm.chat_stream(model="m", **kwargs), calls))

    created = json.loads(results[0].tool_calls[0].arguments)
    assert created["steps"] == [
        {"id": "x", "title": "Research X", "instructions": "Do this: Research X.", "depends_on": []},
        {"id": "y", "title": "Research Y", "instructions": "Look at Y.", "depends_on": []},
        {"id": "r", "title": "Recommend", "instructions": "Do this: Recommend.", "depends_on": ["x", "y"]},
    ]
    assert [r.content for r in results[1:]] == ["Findings: step x", "Findings: step y", "The final answer"]
    assert len(stub_model.wait_for_requests(4)) == 4


def test_stub_reports_a_responder_that_raised():
    stub = StubModel().start()
    stub.responder = lambda request: 1 / 0
    try:
        response = httpx2.post(f"{stub.base_url}/chat/completions", json={"model": "m", "messages": []})
    finally:
        stub.stop()
    assert response.status_code == 400
    assert "ZeroDivisionError" in response.json()["error"]["message"]
    assert isinstance(stub.errors[0], ZeroDivisionError)


def test_stub_without_a_script_answers_400_not_a_retryable_error(stub_model):
    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "bad_request"
    assert "no reply scripted" in caught.value.detail


# --- What users see of an error, and what a failed call used ---------------------------------

LEAKY = "Incorrect API key provided: sk-live-abc123def456ghi789; upstream postgres://admin:secret@db:5432/x"
SECRETS = ("sk-live-abc123", "admin:secret", "secret@db")


@pytest.mark.parametrize(
    ("status", "code"), [(401, "auth_failed"), (429, "rate_limited"), (500, "server_error"), (400, "bad_request")]
)
def test_server_error_text_is_kept_masked_in_detail_and_never_in_the_message(
    stub_model, settings, caplog, status, code
):
    settings.LLM_MAX_RETRIES = 0
    stub_model.queue(Error(status, LEAKY, headers={"Retry-After": "0"}))

    with caplog.at_level("DEBUG", logger="agents.llm.gateway"), pytest.raises(LLMError) as caught:
        call()

    error = caught.value
    assert error.code == code
    assert error.message == LLMError.MESSAGES[code] and code in error.message
    assert str(error) == error.message
    assert error.for_user(run_id="r-1").endswith(f"({code}) (reference: run r-1).")
    assert error.detail == (
        f"The model server answered {status}: Incorrect API key provided: sk-***; upstream postgres://***@db:5432/x"
    )
    for secret in SECRETS:
        assert secret not in error.message and secret not in error.detail and secret not in caplog.text
    assert "postgres://***@db:5432/x" in caplog.text


def test_error_event_inside_the_stream_is_masked_too(stub_model):
    stub_model.queue(Raw([chunk({"content": "Half"}), {"error": {"message": LEAKY, "type": "server_error"}}]))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "server_error"
    assert "sk-***" in caught.value.detail
    assert not any(secret in caught.value.detail + caught.value.message for secret in SECRETS)


def test_a_retry_is_announced_with_the_generic_error(stub_model, caplog):
    stub_model.queue(Error(429, LEAKY, headers={"Retry-After": "0"}), Text("ok"))
    errors = []

    with caplog.at_level("DEBUG", logger="agents.llm.gateway"):
        llm.chat_stream(model="m", messages=USER, on_retry=lambda attempt, error, delay: errors.append(error))

    [error] = errors
    assert error.message == LLMError.MESSAGES["rate_limited"]
    assert "sk-***" in caplog.text and "sk-live-abc123" not in caplog.text


def test_a_cut_stream_carries_what_it_streamed_with_an_estimated_usage(stub_model):
    content = "The answer is being written and then"
    stub_model.queue(Cut(after_chunks=3, content=content))
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Tell me a long story"}]

    with pytest.raises(LLMError) as caught:
        llm.chat_stream(model="m", messages=messages, tools=TOOLS)

    partial = caught.value.partial
    assert partial.content == "The answer is "
    assert partial.finish_reason == "error"
    assert partial.tool_calls == []
    prompt = llm.estimate_usage(messages=messages, tools=TOOLS, content="", tool_calls=[]).prompt_tokens
    assert partial.usage.prompt_tokens == prompt
    assert prompt >= count_prompt_tokens(messages) + 1, "the offered tools count as prompt too"
    assert partial.usage.completion_tokens == llm.estimate_tokens("The answer is ") > 0
    assert partial.usage.total_tokens == prompt + partial.usage.completion_tokens


def test_a_broken_stream_charges_the_servers_usage_when_it_arrived(stub_model):
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    stub_model.queue(Raw([chunk({"content": "Nearly done"}), {**chunk({}), "choices": [], "usage": usage}]))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "stream_broken"
    assert caught.value.partial.usage == llm.Usage(120, 30, 150)
    assert caught.value.partial.content == "Nearly done"


def test_cut_tool_call_fragments_are_kept_and_estimated(stub_model):
    stub_model.queue(
        Raw(
            [
                chunk(
                    {
                        "tool_calls": [
                            {"index": 0, "id": "call_1", "function": {"name": "calculate", "arguments": '{"ex'}}
                        ]
                    }
                )
            ]
        )
    )

    with pytest.raises(LLMError) as caught:
        call(tools=TOOLS)

    partial = caught.value.partial
    assert partial.tool_calls == [llm.ToolCall(id="call_1", name="calculate", arguments='{"ex')]
    assert partial.usage.completion_tokens == llm.estimate_tokens("calculate") + llm.estimate_tokens('{"ex')


def test_a_call_that_streamed_nothing_carries_no_partial(stub_model, settings):
    settings.LLM_MAX_RETRIES = 1
    stub_model.queue(Error(500), Cut(after_chunks=0))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "stream_broken"
    assert caught.value.partial is None
    assert len(stub_model.requests) == 2


def test_a_cancel_mid_stream_carries_what_was_streamed(stub_model):
    stub_model.queue(Text("one two three four five six seven eight", usage=None))
    deltas = []

    with pytest.raises(RunCancelled) as caught:
        llm.chat_stream(model="m", messages=USER, on_text=deltas.append, should_cancel=lambda: len(deltas) >= 2)

    assert caught.value.partial.content == "one two "
    assert caught.value.partial.finish_reason == "cancelled"
    assert caught.value.partial.usage.prompt_tokens == llm.estimate_tokens("Say something")


def test_estimate_tokens_takes_the_larger_count():
    assert llm.estimate_tokens("") == 0
    assert llm.estimate_tokens("a b c d e f") == 6  # words beat characters / 4
    assert llm.estimate_tokens("x" * 40) == 10  # characters / 4 beat one long word
