"""The built-in tools (docs/architecture.md#tools).

Each acts as ``ctx.user`` only and reaches that user's rows only, through the
services and selectors of ``agents`` and ``sessions``. Docstrings are what the
model reads: the first paragraph describes the tool, ``Args:`` its arguments.
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone as django_timezone

from agents.runs import selectors, services
from agents_platform.errors import InvalidInput, NotFound
from sessions import selectors as session_selectors
from sessions import services as session_services

from . import calculator
from .registry import ToolContext, ToolError, tool

QUERY_MAX_CHARS = 200
HISTORY_MAX_RESULTS = 20
RECALL_MAX_RESULTS = 50
SNIPPET_CHARS = 200
_ZONE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")


@tool(kind="read")
def get_current_time(ctx: ToolContext, timezone: str | None = None) -> dict:
    """Get the current date and time, optionally in a given time zone.

    Args:
        timezone: An IANA time zone name such as "Europe/Paris" or "America/New_York". Defaults to UTC.
    """
    name = (timezone or "").strip() or settings.TIME_ZONE
    zone = _zone(name)
    now = django_timezone.now().astimezone(zone)
    return {
        "iso": now.isoformat(timespec="seconds"),
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M:%S"),
        "timezone": name,
        "utc_offset": _utc_offset(now),
        "weekday": now.strftime("%A"),
        "unix_time": int(now.timestamp()),
    }


def _zone(name: str) -> ZoneInfo:
    if _ZONE_KEY.match(name):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ToolError("invalid_timezone", f"'{name[:64]}' is not an IANA time zone name (try e.g. 'Europe/Paris').")


def _utc_offset(moment: datetime) -> str:
    seconds = int(moment.utcoffset().total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, remainder = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{remainder // 60:02d}"


@tool(kind="read")
def calculate(ctx: ToolContext, expression: str) -> dict:
    """Evaluate an arithmetic expression exactly and safely. Use it for any arithmetic instead of guessing.

    Args:
        expression: Numbers with + - * / // % ** and parentheses, the constants pi, e, tau, and the functions
            abs, round, min, max, sqrt, floor, ceil, exp, log, log10, log2, sin, cos, tan. Example: "(2 + 3) * 4 ** 2".
    """
    return {"expression": expression.strip(), "result": calculator.evaluate(expression)}


@tool(kind="read")
def search_history(ctx: ToolContext, query: str, limit: int = 5) -> dict:
    """Search the user's own past chat messages, across all their sessions, newest first.

    Args:
        query: Text the messages must contain (case-insensitive).
        limit: How many messages to return, at most 20.
    """
    query = _clean_query(query)
    limit = _clean_limit(limit, HISTORY_MAX_RESULTS)
    # The message that asked for the search always matches it; leave it out.
    messages = session_selectors.message_search(
        user=ctx.user, query=query, limit=limit, exclude_id=ctx.run.user_message_id
    )
    return {
        "query": query,
        "count": len(messages),
        "results": [
            {
                "message_id": str(message.pk),
                "session_id": str(message.session_id),
                "session_title": message.session.title,
                "role": message.role,
                "created_at": message.created_at.isoformat(),
                "snippet": _snippet(message.content, query),
            }
            for message in messages
        ],
    }


@tool(kind="read")
def recall(ctx: ToolContext, query: str | None = None, limit: int = 10) -> dict:
    """List the memories the user asked you to keep, newest first, or only those containing some text.

    Args:
        query: Text the memories must contain (case-insensitive). Leave it out to list them all.
        limit: How many memories to return, at most 50.
    """
    query = (query or "").strip()[:QUERY_MAX_CHARS] or None
    limit = _clean_limit(limit, RECALL_MAX_RESULTS)
    memories = selectors.memory_list(user=ctx.user, query=query, limit=limit)
    return {
        "query": query,
        "count": len(memories),
        "memories": [
            {"id": str(memory.pk), "content": memory.content, "created_at": memory.created_at.isoformat()}
            for memory in memories
        ],
    }


@tool(kind="write")
def remember(ctx: ToolContext, content: str) -> dict:
    """Save a memory for the user: a fact or preference they asked you to remember for later conversations.

    Args:
        content: What to remember, in one or two sentences (at most 2000 characters).
    """
    try:
        memory = services.memory_create(user=ctx.user, content=content)
    except InvalidInput as exc:
        raise ToolError("invalid_arguments", exc.message) from None
    return {"id": str(memory.pk), "content": memory.content, "created_at": memory.created_at.isoformat()}


@tool(kind="write")
def forget(ctx: ToolContext, memory_id: str) -> dict:
    """Delete one of the user's saved memories. Find its id with recall first.

    Args:
        memory_id: The id of the memory, as recall returned it.
    """
    memory_id = memory_id.strip()
    if not services.memory_delete(user=ctx.user, memory_id=memory_id):
        # Another user's memory answers exactly like one that does not exist.
        raise ToolError("not_found", "There is no memory with that id.")
    return {"id": memory_id, "deleted": True}


@tool(kind="write")
def rename_session(ctx: ToolContext, title: str) -> dict:
    """Give the current chat session a new title.

    Args:
        title: The new title: short, a few words (longer titles are cut at 200 characters).
    """
    try:
        session = session_selectors.session_get(user=ctx.user, session_id=ctx.session.pk)
        session = session_services.session_rename(session=session, title=title)
    except NotFound:
        raise ToolError("not_found", "The current session no longer exists.") from None
    except InvalidInput as exc:
        raise ToolError("invalid_arguments", exc.message) from None
    ctx.session.title = session.title
    return {"session_id": str(session.pk), "title": session.title}


def _clean_query(query: str) -> str:
    query = query.strip()
    if not query:
        raise ToolError("invalid_arguments", "Argument 'query' must not be empty.")
    if len(query) > QUERY_MAX_CHARS:
        raise ToolError("invalid_arguments", f"Argument 'query' must be at most {QUERY_MAX_CHARS} characters.")
    return query


def _clean_limit(limit: int, most: int) -> int:
    if limit < 1:
        raise ToolError("invalid_arguments", "Argument 'limit' must be at least 1.")
    return min(limit, most)


def _snippet(content: str, query: str) -> str:
    """Return the part of a message around the first match, about SNIPPET_CHARS long."""
    match = re.search(re.escape(query), content, re.IGNORECASE)
    start = match.start() if match else 0
    begin = max(0, start - SNIPPET_CHARS // 3)
    end = min(len(content), begin + SNIPPET_CHARS)
    begin = max(0, end - SNIPPET_CHARS)
    text = " ".join(content[begin:end].split())
    return f"{'…' if begin else ''}{text}{'…' if end < len(content) else ''}"
