"""One streamed call (agents.llm.stream): assembly, timeouts, broken streams and what they used, through the gateway."""

import json
import time

import pytest

from agents.exceptions import LLMError, RunCancelled
from agents.llm import gateway as llm
from agents.llm.results import ToolCall, Usage
from agents.llm.tokens import count_prompt_tokens, estimate_tokens, estimate_usage
from tests.support.gateway_calls import TOOLS, USER, call, chunk
from tests.support.stub_model import Cut, Error, Hang, Raw, Text, ToolCalls

# --- Streaming ---------------------------------------------------------------------------


def test_text_deltas_arrive_in_order_and_usage_comes_from_the_usage_chunk(stub_model):
    stub_model.queue(Text("Hello there, general Kenobi. You are a bold one.", chunks=4, usage=(11, 7)))

    result, deltas, retries = call()

    assert deltas == ["Hello there, general ", "Kenobi. You ", "are a ", "bold one."]
    assert result.content == "".join(deltas)
    assert result.usage == Usage(prompt_tokens=11, completion_tokens=7)
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
    assert result.usage == Usage()


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

    assert result.tool_calls == [ToolCall(id="call_x", name="calculate", arguments='{"expression": "1+')]


def test_latency_is_measured(stub_model):
    stub_model.queue(Text("slow start", delay=0.15))

    result, _, _ = call()

    assert result.latency_ms >= 150


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


# --- What a failed call used ------------------------------------------------------------------


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
    prompt = estimate_usage(messages=messages, tools=TOOLS, content="", tool_calls=[]).prompt_tokens
    assert partial.usage.prompt_tokens == prompt
    assert prompt >= count_prompt_tokens(messages) + 1, "the offered tools count as prompt too"
    assert partial.usage.completion_tokens == estimate_tokens("The answer is ") > 0
    assert partial.usage.total_tokens == prompt + partial.usage.completion_tokens


def test_a_broken_stream_charges_the_servers_usage_when_it_arrived(stub_model):
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    stub_model.queue(Raw([chunk({"content": "Nearly done"}), {**chunk({}), "choices": [], "usage": usage}]))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "stream_broken"
    assert caught.value.partial.usage == Usage(prompt_tokens=120, completion_tokens=30)
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
    assert partial.tool_calls == [ToolCall(id="call_1", name="calculate", arguments='{"ex')]
    assert partial.usage.completion_tokens == estimate_tokens("calculate") + estimate_tokens('{"ex')


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
    assert caught.value.partial.usage.prompt_tokens == estimate_tokens("Say something")
