"""Token counts: the offline model's exact count, and our estimate for any other model.

``count_tokens`` is the offline model's tokenizer (words and punctuation
marks): what it reports as usage. ``estimate_tokens`` is what we charge and
budget with when no server told us a count (a call cut short, the planner's
history window, the admission hold): the larger of that count and a quarter
of the characters, because an undercount is tokens nobody pays for.
"""

import json
import math
import re

from agents.llm.results import ToolCall, Usage

TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def message_text(message: dict) -> str:
    """Return everything a message says as text: content (string or text parts) and tool calls."""
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    pieces = [content or ""]
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        pieces += [function.get("name") or "", function.get("arguments") or ""]
    return " ".join(piece for piece in pieces if piece)


def count_tokens(value: str) -> int:
    """Return the offline model's token count of a text: its words and punctuation marks."""
    return len(TOKEN_RE.findall(value or ""))


def count_prompt_tokens(messages: list[dict]) -> int:
    """Return the offline model's prompt tokens of a request: the tokens of every message's text."""
    return sum(count_tokens(message_text(message)) for message in messages)


def estimate_tokens(text: str) -> int:
    """Estimate a text's tokens: the larger of its words and punctuation marks and a quarter of its characters.

    The larger, because an undercount is tokens nobody pays for.
    """
    return max(count_tokens(text), math.ceil(len(text) / 4)) if text else 0


def estimate_usage(
    *, messages: list[dict], tools: list[dict] | None, content: str, tool_calls: list[ToolCall]
) -> Usage:
    """Estimate the usage of a call the server sent no usage for: its request and what it streamed."""
    prompt = sum(estimate_tokens(message_text(message)) for message in messages)
    if tools:
        prompt += estimate_tokens(json.dumps(tools))
    completion = estimate_tokens(content) + sum(
        estimate_tokens(call.name) + estimate_tokens(call.arguments) for call in tool_calls
    )
    return Usage(prompt_tokens=prompt, completion_tokens=completion)
