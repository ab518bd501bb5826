"""The context-provider registry: one decorator adds a provider, ``context_text()`` asks it.

Adding a context provider to a project
--------------------------------------
A session says what the chat is about with ``context_type`` and
``entity_id`` (``POST /api/agent/stream`` sets them when it starts the
session). A provider registered for a ``context_type`` turns them into text
for the planner's system prompt::

    from agents.engine.context import ContextUnavailable, context_provider

    @context_provider("order")
    def order_context(*, user, entity_id: str | None) -> str:
        \"\"\"Describe one of the user's orders.\"\"\"
        order = Order.objects.filter(user=user, number=entity_id).first()
        if order is None:
            raise ContextUnavailable("No such order.")
        return f"Order {order.number}: {order.status}, placed {order.created_at:%Y-%m-%d}."

It is called as the run's user: read only that user's rows. It runs twice:
when a message starts a session of that type (admission: raising
``ContextUnavailable`` answers ``400 unknown_context_type``, and nothing is
stored), and when each run's planner starts (the text goes into its system
prompt, at most CONTEXT_TEXT_MAX_CHARS; a provider that refuses then, say
because the entity was deleted since, gives no text and the run goes on).
A ``context_type`` nobody registered is refused at admission too, except
``general`` (no provider, no text). Names are 1..64 of ``a-z 0-9 _ . -``,
starting with a letter or digit.

Import the module once at startup so the decorator runs: from your app's
``AppConfig.ready()``, or next to the built-ins in
``agents/engine/context/__init__.py``. Two providers of one type are an
error when the second is imported.
"""

import logging
import re
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser

from agents.exceptions import InvalidInput
from agents.storable import storable

logger = logging.getLogger(__name__)

GENERAL = "general"
CONTEXT_TEXT_MAX_CHARS = 4000
CONTEXT_TYPE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
UNKNOWN_CONTEXT_TYPE = "unknown_context_type"

Provider = Callable[..., str]
_providers: dict[str, Provider] = {}


class ContextUnavailable(Exception):
    """A provider has nothing for this user and entity; the client sees ``400 unknown_context_type``."""

    default_message = "This entity_id is not available for this context_type."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


def context_provider(context_type: str) -> Callable[[Provider], Provider]:
    """Register the decorated function as the provider of ``context_type``."""
    if not CONTEXT_TYPE_NAME.fullmatch(context_type) or context_type == GENERAL:
        raise ValueError(f"{context_type!r} cannot name a context provider")

    def register(function: Provider) -> Provider:
        if context_type in _providers:
            raise ValueError(f"A context provider for {context_type!r} is already registered")
        _providers[context_type] = function
        return function

    return register


def unregister(context_type: str) -> None:
    """Forget a provider (tests, and projects that replace a built-in)."""
    _providers.pop(context_type, None)


def registered_types() -> list[str]:
    """Return every accepted ``context_type``: ``general`` and each registered one, sorted."""
    return sorted({GENERAL, *_providers})


def _provide(*, user: AbstractBaseUser, context_type: str | None, entity_id: str | None) -> str:
    if not context_type or context_type == GENERAL:
        return ""
    provider = _providers.get(context_type)
    if provider is None:
        known = ", ".join(registered_types())
        problem = f"Unknown context_type {context_type[:64]!r}; known: {known}."
        raise InvalidInput(problem, code=UNKNOWN_CONTEXT_TYPE, fields={"context_type": [problem]})
    try:
        text = provider(user=user, entity_id=entity_id)
    except ContextUnavailable as exc:
        raise InvalidInput(exc.message, code=UNKNOWN_CONTEXT_TYPE, fields={"entity_id": [exc.message]}) from None
    return (storable(str(text or "")) or "").strip()[:CONTEXT_TEXT_MAX_CHARS]


def context_check(*, user: AbstractBaseUser, context_type: str | None, entity_id: str | None) -> None:
    """Refuse (InvalidInput ``unknown_context_type``) a context nobody provides or whose provider refuses."""
    _provide(user=user, context_type=context_type, entity_id=entity_id)


def context_text(*, user: AbstractBaseUser, context_type: str | None, entity_id: str | None) -> str:
    """Return the provider's text for a run's planner; empty for ``general`` or a context no longer available."""
    try:
        return _provide(user=user, context_type=context_type, entity_id=entity_id)
    except InvalidInput as exc:
        logger.info("Context %s/%s gives no text now: %s", context_type, entity_id, exc.message)
    except Exception:
        logger.exception("Context provider for %r failed; the run goes on without it", context_type)
    return ""
