"""The request in and the answer out: what a Chat Completions request says, and the ``Say``/``Call`` answers."""

import json
import re
from dataclasses import dataclass

from agents.llm.offline.phrases import clean
from agents.llm.tokens import message_text

TITLE_RE = re.compile(
    r"^\s*(?:#+\s*)?\**(?:your |the |current )?(?:step|title|task)\b[^:\n]*:\**\s*(?P<title>\S.*?)\s*$", re.I | re.M
)
INSTRUCTIONS_RE = re.compile(
    r"^\s*\**instructions?\**\s*:\s*(?P<text>.+?)(?=\n\s*\n|\n\s*\**[A-Z][\w ]{0,40}:|\Z)", re.I | re.M | re.S
)


@dataclass
class Say:
    """Answer in text."""

    text: str


@dataclass
class Call:
    """Call tools: ``[(name, arguments), ...]``, after saying ``text`` (an executor's words are its thinking)."""

    calls: list[tuple[str, dict]]
    text: str = ""


def offered_tools(request: dict) -> list[str]:
    """Return the names of the tools a request offers."""
    return [(tool.get("function") or {}).get("name", "") for tool in request.get("tools") or ()]


def tool_round(messages: list[dict]) -> list[tuple[str, dict, str]]:
    """Return the last round of tool results as ``(tool name, arguments, result text)``."""
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if message.get("role") == "assistant" and message.get("tool_calls"):
            calls = {call.get("id"): call.get("function") or {} for call in message["tool_calls"]}
            round_ = []
            for result in messages[position + 1 :]:
                if result.get("role") != "tool":
                    continue
                function = calls.get(result.get("tool_call_id"), {})
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    arguments = {}
                arguments = arguments if isinstance(arguments, dict) else {}
                round_.append((function.get("name", "tool"), arguments, message_text(result)))
            return round_
    return []


def plan_failures(messages: list[dict]) -> tuple[int, str]:
    """Return how many create_plan calls since the user's message came back as errors, and the last error."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    names: dict[str, str] = {}
    failures, last_error = 0, ""
    for message in messages[last_user + 1 :]:
        for call in message.get("tool_calls") or ():
            names[call.get("id")] = (call.get("function") or {}).get("name", "")
        if message.get("role") == "tool" and names.get(message.get("tool_call_id")) == "create_plan":
            error = tool_error(message_text(message))
            if error is not None:
                failures, last_error = failures + 1, error
    return failures, last_error


def tool_error(result_text: str) -> str | None:
    """Return the error message of a tool result, or None when the tool succeeded."""
    try:
        data = json.loads(result_text)
    except ValueError:
        return result_text.split(":", 1)[-1].strip() or result_text if result_text.lower().startswith("error") else None
    if isinstance(data, dict) and (data.get("ok") is False or data.get("error")):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or "unknown error")
        return str(error or "unknown error")
    return None


def step_task(task_text: str) -> tuple[str, str]:
    """Return (title, instructions) of an executor's step task."""
    match = TITLE_RE.search(task_text)
    lines = [line.strip("#* \t") for line in task_text.splitlines() if line.strip("#* \t")]
    title = clean(match.group("title")) if match else (lines[0] if lines else "the task")
    found = INSTRUCTIONS_RE.search(task_text)
    instructions = " ".join(found.group("text").split()) if found else " ".join(task_text.split())
    return title, instructions
