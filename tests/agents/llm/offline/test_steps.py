"""What an offline executor answers to its step (agents.llm.offline.steps), through the gateway."""

import json

import pytest

from agents.engine.prompts import executor_task
from tests.support.offline_calls import EXECUTOR_TOOLS, SYSTEM, ask, assistant_calls, execute, only_call, research

pytestmark = pytest.mark.usefixtures("offline_model")


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
