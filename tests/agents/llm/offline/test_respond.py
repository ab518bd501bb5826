"""The offline model's routing and tool loop (agents.llm.offline.respond, classify, plans), through the gateway."""

import json

import pytest

from tests.support.offline_calls import PLANNER_TOOLS, ask, assistant_calls, only_call, tool

pytestmark = pytest.mark.usefixtures("offline_model")


def check_plan(plan: dict, max_steps: int = 8) -> dict:
    """Assert the plan meets docs/architecture.md#plans; return its steps by id."""
    steps = {step["id"]: step for step in plan["steps"]}
    assert plan["objective"]
    assert 1 <= len(plan["steps"]) <= max_steps
    assert len(steps) == len(plan["steps"])
    for step in plan["steps"]:
        assert step["title"] and step["instructions"]
        assert set(step["depends_on"]) <= set(steps) - {step["id"]}
    return steps


# --- Routing -------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["hello!", "Good morning", "thanks a lot", "tell me a joke about cats"])
def test_plain_messages_get_a_short_text_answer(message):
    result, deltas = ask(message, PLANNER_TOOLS)

    assert result.tool_calls == []
    assert result.finish_reason == "stop"
    assert 0 < len(result.content) < 400
    assert len(deltas) > 1  # streamed in several chunks
    assert "".join(deltas) == result.content


@pytest.mark.parametrize(
    ("message", "name", "arguments"),
    [
        ("what is 17*23", "calculate", {"expression": "17*23"}),
        ("Calculate (2+3) * 4 please", "calculate", {"expression": "(2+3) * 4"}),
        ("what's 12 times 7?", "calculate", {"expression": "12*7"}),
        ("What is 17% of 2,340?", "calculate", {"expression": "17/100*2340"}),
        ("what is 12.5 percent of 80", "calculate", {"expression": "12.5/100*80"}),
        ("what is 2,340 + 1,000,000?", "calculate", {"expression": "2340 + 1000000"}),
        ("what is 7 % 3", "calculate", {"expression": "7 % 3"}),
        ("what time is it in Tokyo", "get_current_time", {"timezone": "Asia/Tokyo"}),
        ("What's the time in New York right now?", "get_current_time", {"timezone": "America/New_York"}),
        ("what time is it?", "get_current_time", {}),
        ("remember that my sister's birthday is May 3rd", "remember", {"content": "my sister's birthday is May 3rd"}),
        ("what do you remember", "recall", {}),
        ("what do you remember about my sister?", "recall", {"query": "my sister"}),
        ("rename this chat to Trip to Kyoto", "rename_session", {"title": "Trip to Kyoto"}),
        ("Search my history for 'sourdough'", "search_history", {"query": "sourdough"}),
    ],
)
def test_tool_requests_become_tool_calls(message, name, arguments):
    result, deltas = ask(message, PLANNER_TOOLS)

    assert result.finish_reason == "tool_calls"
    assert deltas == []
    assert only_call(result) == (name, arguments)


def test_several_places_are_parallel_time_calls():
    result, _ = ask("What time is it in London and Sydney?", PLANNER_TOOLS)

    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("get_current_time", {"timezone": "Europe/London"}),
        ("get_current_time", {"timezone": "Australia/Sydney"}),
    ]
    assert len({c.id for c in result.tool_calls}) == 2


def test_only_offered_tools_are_called():
    offered = [tool("get_current_time"), tool("create_plan")]

    result, _ = ask("what is 17*23", offered)

    assert result.tool_calls == []
    assert result.content


def test_a_comparison_becomes_a_plan_with_parallel_research_and_a_joining_step():
    result, _ = ask("Compare Python and Go for backend services", PLANNER_TOOLS)

    name, plan = only_call(result)
    assert name == "create_plan"
    steps = check_plan(plan)
    assert list(steps) == ["x", "y", "recommend"]
    assert steps["x"]["title"] == "Research Python" and steps["x"]["depends_on"] == []
    assert steps["y"]["title"] == "Research Go" and steps["y"]["depends_on"] == []
    assert steps["recommend"]["depends_on"] == ["x", "y"]
    assert "backend services" in steps["x"]["instructions"]


@pytest.mark.parametrize(
    ("message", "ids"),
    [
        ("Rust vs Zig?", ["x", "y", "recommend"]),
        ("Which is better, tea or coffee?", ["x", "y", "recommend"]),
        ("compare PostgreSQL, MySQL and SQLite in terms of speed and tooling", ["x", "y", "z", "recommend"]),
        ("What are the pros and cons of remote work?", ["pros", "cons", "verdict"]),
        (
            "1. Summarise the French revolution\n2. List its causes\n3. Name three key figures",
            ["part1", "part2", "part3"],
        ),
        (
            "What is a monad? How does it relate to functors? Why do Haskell people like it?",
            ["part1", "part2", "part3"],
        ),
    ],
)
def test_complex_requests_become_valid_plans(message, ids):
    result, _ = ask(message, PLANNER_TOOLS)

    name, plan = only_call(result)
    assert name == "create_plan"
    steps = check_plan(plan)
    assert list(steps) == ids


def test_plans_respect_the_step_limit(settings):
    settings.AGENT_MAX_PLAN_STEPS = 3

    result, _ = ask("compare A1, B2, C3, D4 and E5", PLANNER_TOOLS)

    _, plan = only_call(result)
    steps = check_plan(plan, max_steps=3)
    assert list(steps) == ["x", "y", "recommend"]


# --- The tool loop -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "tool_result", "expected"),
    [  # results shaped as agents.engine.conversation sends them: the tool's result, or {"error": ...}
        ("what is 17*23", {"expression": "17*23", "result": 391}, "17*23 = 391"),
        (
            "what time is it in Tokyo",
            {"iso": "2025-01-01T09:00:00+09:00", "date": "2025-01-01", "time": "09:00:00", "weekday": "Wednesday"},
            "The current time in Asia/Tokyo is 09:00:00 on Wednesday 2025-01-01",
        ),
        ("remember that I like tea", {"id": "4", "content": "I like tea"}, "Saved to memory: “I like tea”"),
        ("what do you remember", {"query": None, "count": 1, "memories": [{"content": "likes tea"}]}, "“likes tea”"),
        (
            "search my history for tea",
            {"query": "tea", "count": 0, "results": []},
            "no earlier messages mentioning “tea”",
        ),
        (
            "what do you remember",
            {"query": None, "count": 2, "memories": [{"content": "likes tea"}, {"content": "has a cat"}]},
            "Here is what I remember:\n- likes tea\n- has a cat",
        ),
        (
            "search my history for tea",
            {
                "query": "tea",
                "count": 2,
                "results": [
                    {"role": "user", "created_at": "2025-01-02T10:00:00+00:00", "snippet": "I drink green tea"},
                    {"role": "assistant", "created_at": "2025-01-01T09:00:00+00:00", "snippet": "Tea wins."},
                ],
            },
            "I found 2 earlier messages mentioning “tea”:\n- I drink green tea (you, 2025-01-02)\n"
            "- Tea wins. (me, 2025-01-01)",
        ),
        ("rename this chat to Teas", {"session_id": "s1", "title": "Teas"}, "this chat is now called “Teas”"),
        ("what is 1/0", {"error": {"code": "tool_failed", "message": "division by zero"}}, "division by zero"),
    ],
)
def test_after_tool_results_the_planner_answers_from_them(message, tool_result, expected):
    first, _ = ask(message, PLANNER_TOOLS)
    messages = [
        {"role": "user", "content": message},
        assistant_calls(first),
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": json.dumps(tool_result)},
    ]

    result, deltas = ask(messages, PLANNER_TOOLS)

    assert result.tool_calls == []
    assert expected in result.content
    assert "".join(deltas) == result.content


def test_a_rejected_plan_is_corrected_once_then_answered_in_text():
    user = {"role": "user", "content": "Compare Python and Go"}
    rejected = json.dumps({"ok": False, "error": {"code": "invalid_plan", "message": "cycle between x and y"}})
    first, _ = ask([user], PLANNER_TOOLS)
    messages = [
        user,
        assistant_calls(first),
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": rejected},
    ]

    second, _ = ask(messages, PLANNER_TOOLS)

    name, plan = only_call(second)
    assert name == "create_plan"
    assert list(check_plan(plan)) == ["answer"]
    messages += [
        assistant_calls(second),
        {"role": "tool", "tool_call_id": second.tool_calls[0].id, "content": rejected},
    ]

    third, _ = ask(messages, PLANNER_TOOLS)

    assert third.tool_calls == []
    assert "cycle between x and y" in third.content
