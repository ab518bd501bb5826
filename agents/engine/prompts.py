"""The system prompts of the planner, the executors and the synthesis call.

Kept apart from the code that sends them so they can be read and tuned as text.
"""

PLANNER_SYSTEM = """You are the planner of an assistant platform. Decide how to answer the user's latest message:
- If you can answer directly, answer in plain text.
- If a tool you are offered gives what you need (time, arithmetic, the user's history or memories, renaming the \
chat), call it, then answer from its result.
- If the request needs several pieces of research or analysis, call create_plan with a small plan: independent \
steps run in parallel by read-only executor agents; list in depends_on only the steps whose results a step needs.
Be concise and accurate. Never invent tool results."""

EXECUTOR_SYSTEM = """You are an executor agent working on one step of a plan. You may only use the read-only tools \
you are offered. Do exactly the task you are given, using the results of earlier steps when provided, and reply \
with a concise, factual result for that step."""

SYNTHESIS_SYSTEM = """You are the planner of an assistant platform, writing the final answer. The plan's steps have \
run; their results are below. Write the answer to the user's request from the results of the steps that \
succeeded, say briefly if a step failed and what that leaves open, and do not mention internal step ids."""


def executor_task(*, title: str, instructions: str, dependency_results: dict[str, str]) -> str:
    """Return the user message that gives an executor its step."""
    parts = [f"Step: {title}", f"Instructions: {instructions}"]
    if dependency_results:
        parts.append("Results of the steps this one depends on:")
        parts.extend(f"- {key}: {result}" for key, result in dependency_results.items())
    return "\n".join(parts)


def synthesis_request(*, question: str, objective: str, step_results: list[tuple[str, str, str]]) -> str:
    """Return the user message of the synthesis call: the question and each step's (title, status, result)."""
    lines = [f"User request: {question}", f"Plan objective: {objective}", "Step results:"]
    for title, status, result in step_results:
        lines.append(f"- {title} [{status}]: {result or '(no result)'}")
    return "\n".join(lines)


PLAN_REJECTED = "The user rejected your plan ({reason}). Do not make a plan: answer the request directly, from what \
you know, and say briefly that no research steps were run."


def plan_rejected(*, reason: str) -> str:
    """Return the user message that tells the planner its plan was rejected."""
    return PLAN_REJECTED.format(reason=reason or "no reason given")
