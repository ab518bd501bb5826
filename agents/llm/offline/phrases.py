"""Phrases taken out of a message and put into an answer: cleaned, shortened, listed."""

import re

QUOTES = "\"'`\u201c\u201d\u2018\u2019"


def clean(value: str) -> str:
    """Strip quotes, spaces and closing punctuation from a phrase taken out of a message."""
    return value.strip().strip(QUOTES).strip().rstrip(".!?").strip().strip(QUOTES).strip()


def shorten(value: str, limit: int) -> str:
    """Return a phrase on one line, cut with an ellipsis to at most ``limit`` characters."""
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def join_list(items: list[str], word: str = "and") -> str:
    """Return items as a sentence lists them: "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def split_list(value: str) -> list[str]:
    """Return the items a phrase lists ("a, b and c", "a vs b"), cleaned, each once."""
    items = re.split(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|with|to|against|vs\.?|versus)\s+", value, flags=re.I)
    seen, result = set(), []
    for item in (clean(item) for item in items):
        if item and len(item) <= 60 and item.lower() not in seen:
            seen.add(item.lower())
            result.append(item)
    return result


def capitalise(value: str) -> str:
    """Return a phrase with its first letter in upper case (the rest untouched)."""
    return value[:1].upper() + value[1:]
