"""What every supported database can store, applied to input and to model output alike.

PostgreSQL refuses NUL in text and jsonb; a lone surrogate (valid as a JSON
``\\ud800`` escape) has no UTF-8 form, so SQLite and PostgreSQL both refuse
it; NaN and Infinity are Python's JSON extensions, not JSON, and no JSON
column (nor a client's ``JSON.parse``) takes them. Requests with such text
are refused with a reason; model text is cleaned; model JSON that carries
it is refused by ``load_json`` (callers keep it raw or report it).
"""

import json
from typing import Any


def unstorable_reason(value: str) -> str | None:
    """Say why a string cannot be stored as text in every supported database, or None."""
    if "\x00" in value:
        return "Null characters are not allowed."
    if not value.isascii() and any("\ud800" <= char <= "\udfff" for char in value):
        return "Surrogate characters are not allowed."
    return None


def storable(text: str | None) -> str | None:
    """Return the text without NUL, lone surrogates replaced by '?'."""
    if not text or (text.isascii() and "\x00" not in text):
        return text  # the common case (every streamed chunk passes here), without a copy
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def has_unstorable_text(value: Any) -> bool:
    """Return whether any string in a parsed JSON value (keys included) cannot be stored as text."""
    if isinstance(value, str):
        return unstorable_reason(value) is not None
    if isinstance(value, dict):
        return any(has_unstorable_text(key) or has_unstorable_text(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_unstorable_text(item) for item in value)
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json(text: str, **options: Any) -> Any:
    """Parse model JSON strictly: ValueError (or RecursionError) unless it is standard JSON we can store."""
    value = json.loads(text, parse_constant=_reject_constant, **options)
    # Only an escape can decode to NUL or a lone surrogate (a raw NUL is already invalid JSON).
    if "\\u" in text and has_unstorable_text(value):
        raise ValueError("it holds characters no database stores (NUL or a lone surrogate)")
    return value
