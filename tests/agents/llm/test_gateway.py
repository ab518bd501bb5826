"""The LLM gateway (agents.llm.gateway): retries and cancelling, through the real openai SDK over real HTTP
against the stub model, and the stub itself."""

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from agents.exceptions import LLMError, RunCancelled
from agents.llm import gateway as llm
from tests.support.gateway_calls import TOOLS, USER, call
from tests.support.stub_model import Error, StubModel, Text, is_executor, is_routing, is_synthesis, last_user_text, plan

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
