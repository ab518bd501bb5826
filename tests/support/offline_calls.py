"""Calls to the built-in offline model through the gateway, shared by the offline model's tests.

``offline_model`` (a fixture, registered in ``tests/conftest.py``) points the
LLM settings at the offline model for a test.
"""

import json

import pytest

from agents.engine.prompts import executor_task
from agents.llm import gateway as llm


def tool(name: str) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}


PLANNER_TOOLS = [
    tool(n)
    for n in (
        "get_current_time",
        "calculate",
        "search_history",
        "recall",
        "remember",
        "forget",
        "rename_session",
        "create_plan",
    )
]
EXECUTOR_TOOLS = [tool(n) for n in ("get_current_time", "calculate", "search_history", "recall")]
SYSTEM = {"role": "system", "content": "You are an executor agent."}


@pytest.fixture
def offline_model(settings):
    """Answer this test's model calls with the built-in offline model."""
    settings.LLM_PROVIDER = "offline"
    settings.OFFLINE_MODEL_DELAY = 0
    llm.reset_client()
    yield
    llm.reset_client()


def ask(messages, tools=None):
    """Return (result, deltas) of one offline call."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    deltas = []
    result = llm.chat_stream(model="offline-model", messages=messages, tools=tools, on_text=deltas.append)
    return result, deltas


def only_call(result) -> tuple[str, dict]:
    [call] = result.tool_calls
    return call.name, json.loads(call.arguments)


def assistant_calls(result) -> dict:
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in result.tool_calls
    ]
    return {"role": "assistant", "content": None, "tool_calls": calls}


def execute(task: str):
    """Return (result, deltas) of an executor's call on its step task."""
    return ask([SYSTEM, {"role": "user", "content": task}], EXECUTOR_TOOLS)


def research(subject: str) -> str:
    """Return an executor's findings on a subject (a "Research ..." step)."""
    task = executor_task(
        title=f"Research {subject}", instructions=f"Assess {subject} on speed and tooling.", dependency_results={}
    )
    return execute(task)[0].content
