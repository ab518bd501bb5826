"""The offline model on the wire (agents.llm.offline.transport): chunks, usage, pacing, errors, determinism."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from agents.llm import gateway as llm
from agents.llm.offline.transport import OfflineTransport
from agents.llm.tokens import count_prompt_tokens, count_tokens
from tests.support.offline_calls import PLANNER_TOOLS, ask

pytestmark = pytest.mark.usefixtures("offline_model")

ROOT = Path(__file__).resolve().parents[4]


def test_create_plan_arguments_stream_in_several_fragments():
    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": "compare cats and dogs"}],
        "tools": PLANNER_TOOLS,
    }
    with httpx2.Client(transport=OfflineTransport()) as client:
        response = client.post("http://offline.invalid/v1/chat/completions", json=body)

    frames = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(frame) for frame in frames[:-1]]
    fragments = [
        call["function"]["arguments"]
        for chunk in chunks
        for call in chunk["choices"][0]["delta"].get("tool_calls") or ()
        if call["function"].get("arguments")
    ]
    assert len(fragments) >= 3
    assert json.loads("".join(fragments))["steps"]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert "usage" not in chunks[-1]  # only sent when stream_options.include_usage asks for it


@pytest.mark.parametrize("message", ["hello", "compare Python and Go", "what time is it in Paris"])
def test_same_request_same_answer(message):
    first, first_deltas = ask(message, PLANNER_TOOLS)
    second, second_deltas = ask(message, PLANNER_TOOLS)

    assert (first.content, first.tool_calls, first.usage) == (second.content, second.tool_calls, second.usage)
    assert first_deltas == second_deltas


def test_text_usage_is_the_tokenizers_count():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there!"}]

    result, _ = ask(messages)

    assert result.usage.prompt_tokens == count_prompt_tokens(messages) == 6
    assert result.usage.completion_tokens == count_tokens(result.content) > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_tool_call_usage_counts_names_and_arguments():
    result, _ = ask("compare Python and Go", PLANNER_TOOLS)

    [call] = result.tool_calls
    assert result.usage.completion_tokens == count_tokens(call.name) + count_tokens(call.arguments) > 20
    assert result.usage.prompt_tokens == count_tokens("compare Python and Go") == 4


def test_offline_model_delay_paces_the_stream(settings):
    settings.OFFLINE_MODEL_DELAY = 0.02
    started = time.monotonic()

    _, deltas = ask("hello")

    assert len(deltas) > 5
    assert time.monotonic() - started >= 0.02 * len(deltas)


def test_non_streamed_requests_get_a_whole_completion():
    result = llm.get_client().chat.completions.create(
        model="offline-model", messages=[{"role": "user", "content": "what is 2+2"}], tools=PLANNER_TOOLS
    )

    [call] = result.choices[0].message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("calculate", {"expression": "2+2"})
    assert result.usage.prompt_tokens == count_tokens("what is 2+2")


def test_bad_requests_are_answered_like_a_server_would():
    with httpx2.Client(transport=OfflineTransport()) as client:
        assert client.post("http://offline.invalid/v1/embeddings", json={}).status_code == 404
        assert client.post("http://offline.invalid/v1/chat/completions", content=b"{").status_code == 400
        empty = client.post("http://offline.invalid/v1/chat/completions", json={"model": "m", "messages": []})
    assert empty.status_code == 400
    assert "messages" in empty.json()["error"]["message"]


@pytest.mark.parametrize(("value", "ok"), [("0", True), ("0.05", True), ("-1", False), ("soon", False)])
def test_offline_model_delay_setting_is_checked_at_start(value, ok):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(OFFLINE_MODEL_DELAY=value, DJANGO_SETTINGS_MODULE="agents_platform.settings")
    script = "import django; django.setup(); from django.conf import settings; print(settings.OFFLINE_MODEL_DELAY)"

    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert (done.returncode == 0) is ok
    if ok:
        assert float(done.stdout.strip()) == float(value)
    else:
        assert "OFFLINE_MODEL_DELAY" in done.stderr


def test_the_offline_model_names_itself_in_its_replies_whatever_it_was_asked_for():
    """As a real server does (asked for "gpt-4o", it answers "gpt-4o-2024-08-06"): stored calls say who answered."""
    for message in ("hello!", "what is 2+2"):
        result = llm.chat_stream(model="gpt-4o-mini", messages=[{"role": "user", "content": message}], tools=None)
        assert result.model == "offline"
