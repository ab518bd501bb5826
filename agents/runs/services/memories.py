"""The user's saved memories."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from agents.exceptions import InvalidInput
from agents.models import Memory

MEMORY_MAX_CHARS = 2000


def memory_create(*, user: AbstractBaseUser, content: str) -> Memory:
    """Save a memory for the user."""
    content = content.strip()
    if not content:
        raise InvalidInput("A memory must not be empty.", code="invalid_memory", fields={"content": ["Required."]})
    if len(content) > MEMORY_MAX_CHARS:
        message = f"A memory must be at most {MEMORY_MAX_CHARS} characters."
        raise InvalidInput(message, code="invalid_memory", fields={"content": [message]})
    return Memory.objects.create(user=user, content=content)


def memory_delete(*, user: AbstractBaseUser, memory_id: uuid.UUID | str) -> bool:
    """Delete one of the user's memories; False when the user has no such memory."""
    try:
        deleted, _ = Memory.objects.filter(user=user, pk=memory_id).delete()
    except (ValidationError, ValueError, TypeError):
        return False
    return bool(deleted)
