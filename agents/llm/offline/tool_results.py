"""The sentences that tell the user what a round of tool calls gave."""

import json

from agents.llm.offline.messages import tool_error
from agents.llm.offline.phrases import shorten

_WRITE_VERBS = {"remember": "save that", "forget": "forget that memory", "rename_session": "rename this chat"}


def describe_tool_result(name: str, arguments: dict, result_text: str) -> str:
    """Return a sentence telling the user what a tool call gave."""
    error = tool_error(result_text)
    if error is not None and _error_code(result_text) == "rejected":
        return f"All right, I did not {_WRITE_VERBS.get(name, 'run ' + name.replace('_', ' '))}: {error.rstrip('.')}."
    if error is not None:
        return f"I couldn't complete {name.replace('_', ' ')}: {error}."
    value = _tool_value(result_text)
    if name == "calculate":
        return f"{arguments.get('expression', 'The result')} = {_pick(value, 'result', 'value', 'answer')}."
    if name == "get_current_time":
        zone = arguments.get("timezone") or (value.get("timezone") if isinstance(value, dict) else None) or "UTC"
        when = _pick(value, "time", "iso", "datetime")
        if isinstance(value, dict) and value.get("time") and value.get("date"):
            when = f"{value['time']} on {value.get('weekday', '')} {value['date']}".replace("  ", " ")
        return f"The current time in {zone} is {when}."
    if name == "remember":
        # The result's content: what was saved, also when the user edited the call before approving it.
        saved = value.get("content") if isinstance(value, dict) else None
        return f"Saved to memory: “{saved or arguments.get('content') or _describe(value)}”."
    if name == "forget":
        return "Done — that memory is forgotten."
    if name == "rename_session":
        return f"Done — this chat is now called “{arguments.get('title') or _pick(value, 'title')}”."
    if name == "recall":
        texts = [shorten(_pick(item, "content", "text"), 120) for item in _items(value)]
        about = f" about “{arguments['query']}”" if arguments.get("query") else ""
        if len(texts) == 1:
            return f"Here is what I remember{about}: “{texts[0]}”."
        listed = "".join(f"\n- {text}" for text in texts)
        return f"Here is what I remember{about}:{listed}" if texts else f"I don't have any saved memories{about} yet."
    if name == "search_history":
        query = arguments.get("query", "that")
        found = [_found_message(item) for item in _items(value)]
        if not found:
            return f"I found no earlier messages mentioning “{query}”."
        count = f"{len(found)} earlier message{'s' * (len(found) != 1)}"
        return f"I found {count} mentioning “{query}”:" + "".join(f"\n- {line}" for line in found[:5])
    return f"{name} returned {_describe(value)}."


def _found_message(item) -> str:
    """Return one search_history hit as "snippet (who, date)"."""
    text = shorten(_pick(item, "snippet", "content", "text"), 100)
    if not isinstance(item, dict):
        return text
    who = {"user": "you", "assistant": "me"}.get(item.get("role"), item.get("role"))
    when = str(item.get("created_at") or "")[:10]
    source = ", ".join(part for part in (who, when) if part)
    return f"{text} ({source})" if source else text


def _error_code(result_text: str) -> str | None:
    try:
        data = json.loads(result_text)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _tool_value(result_text: str):
    try:
        data = json.loads(result_text)
    except ValueError:
        return result_text
    return data["result"] if isinstance(data, dict) and "result" in data else data


def _describe(value) -> str:
    if isinstance(value, dict):
        return shorten(", ".join(f"{key}: {_describe(item)}" for key, item in value.items()), 200)
    if isinstance(value, list):
        return shorten("; ".join(_describe(item) for item in value[:5]), 200)
    return str(value)


def _pick(value, *keys: str) -> str:
    if isinstance(value, dict):
        for key in keys:
            if value.get(key) not in (None, ""):
                return _describe(value[key])
    return _describe(value)


def _items(value) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return next((item for item in value.values() if isinstance(item, list)), [])
    return []
