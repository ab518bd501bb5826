"""The offline synthesis of step results (agents.llm.offline.synthesis), through the gateway."""

import pytest

from agents.engine.prompts import SYNTHESIS_SYSTEM, executor_task, synthesis_request
from tests.support.offline_calls import ask, execute, research

pytestmark = pytest.mark.usefixtures("offline_model")


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
