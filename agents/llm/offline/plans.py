"""The offline planner's plans: ``create_plan`` arguments for a comparison or a request of several parts."""

from agents.llm.offline.classify import comparison_of, request_parts
from agents.llm.offline.phrases import clean, join_list, shorten

STEP_IDS = ["x", "y", "z", "w", "v", "u", "t"]


def _step(step_id: str, title: str, instructions: str, depends_on: list[str] | None = None) -> dict:
    return {"id": step_id, "title": title, "instructions": instructions, "depends_on": depends_on or []}


def plan_for(user_text: str, *, max_steps: int) -> dict | None:
    """Return create_plan arguments for a comparison or multi-part request, or None for anything else."""
    objective = shorten(user_text, 200)
    comparison = comparison_of(user_text)
    if comparison is not None:
        items, purpose, aspects, pros_and_cons = comparison
        if pros_and_cons:
            subject, considering = items[0], f"{purpose}, considering {join_list(aspects)}."
            steps = [
                _step("pros", f"List the pros of {subject}", f"List the main advantages of {subject}{considering}"),
                _step("cons", f"List the cons of {subject}", f"List the main drawbacks of {subject}{considering}"),
                _step(
                    "verdict",
                    f"Weigh the pros and cons of {subject}",
                    f"Weigh the pros against the cons of {subject}{purpose} and give a verdict.",
                    ["pros", "cons"],
                ),
            ]
            return {"objective": objective, "steps": steps[:max_steps]}
        items = items[: max(max_steps - 1, 1)]
        steps = [
            _step(
                step_id,
                f"Research {item}",
                f"Assess {item}{purpose} on {join_list(aspects)}. Note strengths and weaknesses.",
            )
            for step_id, item in zip(STEP_IDS, items, strict=False)
        ]
        if len(steps) >= 2:
            weigh = f"Weigh the findings on {join_list(items)}{purpose} and recommend one, saying why."
            steps.append(_step("recommend", f"Recommend between {join_list(items)}", weigh, [s["id"] for s in steps]))
        return {"objective": objective, "steps": steps}
    parts = request_parts(user_text)[:max_steps]
    if len(parts) < 2:
        return None
    steps = [_step(f"part{n}", shorten(clean(part), 80) or f"Part {n}", part) for n, part in enumerate(parts, start=1)]
    return {"objective": objective, "steps": steps}


def minimal_plan(user_text: str) -> dict:
    """Return the smallest valid plan: one step that answers the whole request."""
    instructions = user_text or "Answer the request."
    return {
        "objective": shorten(user_text, 200) or "Answer the request",
        "steps": [_step("answer", "Answer the request", instructions)],
    }
