"""The built-in context provider: ``session``, another chat of the same user."""

from django.contrib.auth.models import AbstractBaseUser

from agents_platform.errors import NotFound
from sessions import selectors as session_selectors

from .registry import ContextUnavailable, context_provider

SESSION_CONTEXT_MESSAGES = 10
SESSION_CONTEXT_MESSAGE_CHARS = 300


@context_provider("session")
def session_context(*, user: AbstractBaseUser, entity_id: str | None) -> str:
    """Describe one of the user's own sessions: its title and its last messages.

    ``entity_id`` is that session's id. Another user's session, or an id of
    none, is unavailable (the same answer: nothing leaks about it).
    """
    if not entity_id:
        raise ContextUnavailable("context_type 'session' needs the entity_id of one of your sessions.")
    try:
        session = session_selectors.session_get(user=user, session_id=entity_id)
    except NotFound:
        raise ContextUnavailable("No session of yours has this entity_id.") from None
    lines = [f'This chat follows up on the user\'s earlier chat "{session.title or "(untitled)"}".']
    recent = session_selectors.message_history(session=session, limit=SESSION_CONTEXT_MESSAGES)
    if recent:
        lines.append("Its last messages, oldest first:")
        for message in recent:
            content = " ".join(message.content.split())
            if len(content) > SESSION_CONTEXT_MESSAGE_CHARS:
                content = content[: SESSION_CONTEXT_MESSAGE_CHARS - 1] + "…"
            lines.append(f"- {message.role}: {content}")
    return "\n".join(lines)
