"""Validation of ``conversation_history``: earlier turns a client imports into a new session."""

from typing import Any

from django.conf import settings

from agents.storable import unstorable_reason

HISTORY_MAX_MESSAGES = 100
HISTORY_ROLES = ("user", "assistant")


def history_problem(value: Any) -> tuple[list[tuple[str, str]] | None, str | None]:
    """Return ``(turns, None)`` for a valid history (None when absent or empty), or ``(None, problem)``.

    Each turn is ``{"role": "user" | "assistant", "content": str}`` with the
    message's length rules (1..AGENT_MAX_MESSAGE_CHARS after trimming), at
    most HISTORY_MAX_MESSAGES of them; other keys of a turn are ignored.
    """
    if value is None or value == []:
        return None, None  # an empty history imports nothing, on any session
    if not isinstance(value, list):
        return None, "Must be a list of {role, content} or null."
    if len(value) > HISTORY_MAX_MESSAGES:
        return None, f"Must have at most {HISTORY_MAX_MESSAGES} messages."
    turns = []
    limit = settings.AGENT_MAX_MESSAGE_CHARS
    for position, item in enumerate(value):
        where = f"Message {position}"
        if not isinstance(item, dict):
            return None, f"{where}: must be an object with role and content."
        role, content = item.get("role"), item.get("content")
        if role not in HISTORY_ROLES:
            return None, f"{where}: role must be one of {', '.join(HISTORY_ROLES)}."
        if not isinstance(content, str):
            return None, f"{where}: content must be a string."
        content = content.strip()
        if not content:
            return None, f"{where}: content must not be empty."
        if len(content) > limit:
            return None, f"{where}: content must be at most {limit} characters."
        if problem := unstorable_reason(content):
            return None, f"{where}: {problem}"
        turns.append((role, content))
    return turns, None
