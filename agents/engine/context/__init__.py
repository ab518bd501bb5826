"""Context providers: what a session is about (``context_type``, ``entity_id``), as text for the planner.

Importing this package registers the built-in provider (``session``). A
project adds its own with ``@context_provider("<type>")``; see
``agents.engine.context.registry`` for how.
"""

from django.contrib.auth.models import AbstractBaseUser

from agents.engine import prompts

from . import builtin  # noqa: F401  (registers the built-in providers)
from .registry import (
    GENERAL,
    UNKNOWN_CONTEXT_TYPE,
    ContextUnavailable,
    context_check,
    context_provider,
    context_text,
    registered_types,
    unregister,
)

__all__ = [
    "GENERAL",
    "UNKNOWN_CONTEXT_TYPE",
    "ContextUnavailable",
    "context_check",
    "context_provider",
    "context_text",
    "planner_system",
    "registered_types",
    "unregister",
]


def planner_system(*, user: AbstractBaseUser, context_type: str | None, entity_id: str | None) -> str:
    """Return the planner's system prompt, with the session's context when its provider gives some."""
    return prompts.planner_system(context=context_text(user=user, context_type=context_type, entity_id=entity_id))
