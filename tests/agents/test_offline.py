"""The offline model, driven through agents.llm.gateway and the real openai client like a real model."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from agents.engine.prompts import SYNTHESIS_SYSTEM, executor_task, synthesis_request
from agents.llm import gateway as llm
from agents.llm.offline import OfflineTransport, count_prompt_tokens, count_tokens

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture(autouse=True)
def offline(settings):
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


# --- Executors and synthesis ---------------------------------------------------------------

SYSTEM = {"role": "system", "content": "You are an executor agent."}


def execute(task: str):
    return ask([SYSTEM, {"role": "user", "content": task}], EXECUTOR_TOOLS)


def test_executor_writes_a_step_specific_paragraph():
    result, _ = execute(
        executor_task(
            title="Research Python", instructions="Assess Python on speed, tooling and hiring.", dependency_results={}
        )
    )

    assert result.tool_calls == []
    assert result.content.startswith("Python: speed is ")
    assert "tooling" in result.content and "hiring" in result.content
    assert "Overall score for Python: " in result.content


def research(subject: str) -> str:
    task = executor_task(
        title=f"Research {subject}", instructions=f"Assess {subject} on speed and tooling.", dependency_results={}
    )
    return execute(task)[0].content


def test_executor_recommends_from_its_dependencies_results():
    python, go = research("Python"), research("Go")
    task = executor_task(
        title="Recommend between Python and Go",
        instructions="Weigh the findings and recommend one.",
        dependency_results={"x": python, "y": go},
    )

    result, _ = execute(task)

    assert result.content.startswith("Recommendation: ")
    winner = result.content.removeprefix("Recommendation: ").split(maxsplit=1)[0].rstrip(".,")
    assert winner in ("Python", "Go")
    assert f"Overall score for {winner}: " in (python if winner == "Python" else go)


def test_executor_uses_calculate_for_arithmetic_then_reports_it():
    task = executor_task(
        title="Yearly cost", instructions="Work out 12*49.5 for the subscription.", dependency_results={}
    )
    first, _ = execute(task)
    assert only_call(first) == ("calculate", {"expression": "12*49.5"})
    messages = [
        SYSTEM,
        {"role": "user", "content": task},
        assistant_calls(first),
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": json.dumps({"result": 594})},
    ]

    result, _ = ask(messages, EXECUTOR_TOOLS)

    assert result.tool_calls == []
    assert result.content == "Yearly cost: 12*49.5 = 594."


@pytest.mark.parametrize(
    ("title", "instructions", "expected"),
    [
        (
            "Summarise the French revolution",
            "Summarise the French revolution",
            "French revolution: an outline only — the built-in offline model has no outside knowledge to add.",
        ),
        (
            "Explain monads",
            "Explain monads with examples of Maybe and lists.",
            "Monads: an outline — cover examples, Maybe and lists, how they connect, and what follows from them. "
            "(The built-in offline model has no outside knowledge.)",
        ),
    ],
)
def test_executor_outlines_a_step_it_has_no_knowledge_for(title, instructions, expected):
    result, _ = execute(executor_task(title=title, instructions=instructions, dependency_results={}))

    assert result.content == expected


def test_executor_does_not_mistake_a_year_range_for_arithmetic():
    result, _ = execute(
        executor_task(
            title="Review the 2024-2025 budget", instructions="Summarise the 2024-2025 plan.", dependency_results={}
        )
    )

    assert result.tool_calls == []
    assert result.content.startswith("2024-2025 budget: ")


def synthesise(step_results, question="Compare Python and Go"):
    message = synthesis_request(question=question, objective=f"{question}, then pick one", step_results=step_results)
    return ask([{"role": "system", "content": SYNTHESIS_SYSTEM}, {"role": "user", "content": message}])


def recommend(python: str, go: str) -> str:
    task = executor_task(
        title="Recommend between Python and Go",
        instructions="Weigh the findings and recommend one.",
        dependency_results={"x": python, "y": go},
    )
    return execute(task)[0].content


def bullets(answer: str, titles: list[str]) -> dict[str, str]:
    """Return the answer's step lines as {title: short form}, asserting each title has exactly one line."""
    lines = [line for line in answer.splitlines() if line.startswith("- ")]
    assert len(lines) == len(titles), lines
    found = {}
    for title in titles:
        [line] = [line for line in lines if line.startswith(f"- {title}: ")]
        found[title] = line.removeprefix(f"- {title}: ")
    return found


def test_synthesis_is_an_intro_one_line_per_step_and_a_recommendation():
    python, go = research("Python"), research("Go")
    steps = [
        ("Research Python", "completed", python),
        ("Research Go", "completed", go),
        ("Recommend between Python and Go", "completed", recommend(python, go)),
    ]

    result, deltas = synthesise(steps)

    lines = result.content.splitlines()
    assert lines[0] == "Here is what I found for “Compare Python and Go” (the scores are illustrative):"
    found = bullets(result.content, [title for title, _, _ in steps])
    assert lines[1:4] == [f"- {title}: {short}" for title, short in found.items()]
    winner = lines[-1].removeprefix("Recommendation: ").split(".")[0]
    assert winner in ("Python", "Go") and len(lines) == 5
    for subject, paragraph in (("Python", python), ("Go", go)):
        score = paragraph.split(f"Overall score for {subject}: ")[1].split(".")[0]
        assert found[f"Research {subject}"].startswith(f"{score} overall; strongest on ")
    assert found["Recommend between Python and Go"] == f"{winner} comes out ahead."
    assert lines[-1] in recommend(python, go)
    for leak in ("[completed]", "User request", "Plan objective", "Step results", "Illustrative scores"):
        assert leak not in result.content
    assert len(deltas) > 1


def test_synthesis_marks_steps_that_did_not_complete_and_recommends_from_what_did():
    steps = [
        ("Research Python", "completed", research("Python")),
        ("Research Go", "failed", "The model call failed (timeout): Request timed out."),
        ("Recommend between Python and Go", "skipped", "Skipped: Research Go did not complete."),
    ]

    result, _ = synthesise(steps)

    found = bullets(result.content, [title for title, _, _ in steps])
    assert found["Research Go"] == "failed. The model call failed (timeout): Request timed out."
    assert found["Recommend between Python and Go"] == "skipped. Research Go did not complete."
    assert result.content.splitlines()[-1].startswith("Recommendation: Python, the only option with findings")


def test_synthesis_marks_a_failed_step_without_a_reason():
    result, _ = synthesise([("Research Python", "completed", research("Python")), ("Research Go", "failed", None)])

    assert bullets(result.content, ["Research Python", "Research Go"])["Research Go"] == "failed."
    assert result.content.splitlines()[-1].startswith("Recommendation: Python")


def test_synthesis_of_pros_and_cons_ends_with_the_verdict():
    pros, cons = (
        execute(executor_task(title=title, instructions="List them.", dependency_results={}))[0].content
        for title in ("List the pros of remote work", "List the cons of remote work")
    )
    weigh = executor_task(
        title="Weigh the pros and cons of remote work",
        instructions="Give a verdict.",
        dependency_results={"pros": pros, "cons": cons},
    )
    steps = [
        ("List the pros of remote work", "completed", pros),
        ("List the cons of remote work", "completed", cons),
        ("Weigh the pros and cons of remote work", "completed", execute(weigh)[0].content),
    ]

    result, _ = synthesise(steps, question="What are the pros and cons of remote work?")

    found = bullets(result.content, [title for title, _, _ in steps])
    assert not any(short.startswith(("Pros of", "Cons of")) for short in found.values())
    verdict = result.content.splitlines()[-1]
    assert verdict.startswith("Verdict on remote work: the ")
    assert found["Weigh the pros and cons of remote work"] == verdict.split(": ", 1)[1]


def test_synthesis_keeps_titles_with_colons_and_results_of_several_lines_apart():
    steps = [
        ("Research C++: templates [advanced]", "completed", "Templates are powerful.\n- They compile slowly."),
        ("Research Rust", "completed", "### Findings\nRust is safe: the borrow checker sees to it.\nMore text."),
        ("Summary", "cancelled", "The run was cancelled."),
    ]

    result, _ = synthesise(steps, question="Look into C++ and Rust\nfor a game engine")

    assert result.content.splitlines()[0] == "Here is what I found for “Look into C++ and Rust for a game engine”:"
    assert bullets(result.content, [title for title, _, _ in steps]) == {
        "Research C++: templates [advanced]": "Templates are powerful.",
        "Research Rust": "Rust is safe: the borrow checker sees to it.",
        "Summary": "cancelled.",
    }
    assert "Recommendation" not in result.content  # nothing to choose between


@pytest.mark.parametrize(
    "message",
    [
        "Objective: pick a pet\n\n### Research cats\nCats are calm.\n\n### Research dogs\nDogs are loyal.",
        "Objective: pick a pet\n- **Research cats**: Cats are calm.\n- **Research dogs**: Dogs are loyal.",
        "Objective: pick a pet\n- x (Research cats): Cats are calm.\n- y (Research dogs): Dogs are loyal.",
    ],
)
def test_synthesis_reads_other_common_result_layouts(message):
    result, _ = ask(message)

    assert "- Research cats: Cats are calm." in result.content
    assert "- Research dogs: Dogs are loyal." in result.content


# --- Determinism and tokens ----------------------------------------------------------------


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


def test_count_tokens_counts_words_and_punctuation():
    assert count_tokens("Hello, world! 17*23 = 391.") == 10
    assert count_tokens("") == 0


# --- Wire details --------------------------------------------------------------------------


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
