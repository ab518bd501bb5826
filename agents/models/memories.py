"""What users asked the assistant to remember."""

import uuid

from django.conf import settings
from django.db import models


class Memory(models.Model):
    """Something the user asked the assistant to remember."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_memories")
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "memories"
        indexes = [models.Index(fields=["user", "-created_at"], name="memory_user_created")]

    def __str__(self) -> str:
        return self.content[:80]
