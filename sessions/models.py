import uuid

from django.conf import settings
from django.db import models


class ChatSession(models.Model):
    """One conversation of one user with the assistant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions")
    title = models.CharField(max_length=200, blank=True, default="")
    context_type = models.CharField(
        max_length=64,
        default="general",
        help_text="Label of what the chat is about: the API's context_type (general by default).",
    )
    # The contract distinguishes null (no entity) from a string id.
    entity_id = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, help_text="Id of the thing the chat is about."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, help_text="Last activity: bumped by every new message.")
    cost_usd = models.DecimalField(
        max_digits=20, decimal_places=10, default=0, help_text="US dollars of every LLM call made for the session."
    )

    class Meta:
        ordering = ["-updated_at", "-created_at"]
        indexes = [models.Index(fields=["user", "-updated_at"], name="chatsession_user_updated")]

    def __str__(self) -> str:
        return self.title or f"Session {self.id}"


# At module level, and named inside Message too (``Message.Status``): Message.Meta's constraint
# names it, and a nested Meta cannot see the model's own body.
class MessageStatus(models.TextChoices):
    COMPLETE = "complete", "Complete"
    INCOMPLETE = "incomplete", "Incomplete"


class Message(models.Model):
    """A message of a session as the user sees it: theirs or the assistant's."""

    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    Status = MessageStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    status = models.CharField(
        max_length=16,
        choices=Status.choices,
        default=Status.COMPLETE,
        help_text="'incomplete': an answer cut off before the model finished it (its stream broke); "
        "the content is what had arrived.",
    )
    prompt_tokens = models.PositiveIntegerField(default=0, help_text="Prompt tokens of the run that wrote it.")
    completion_tokens = models.PositiveIntegerField(default=0, help_text="Completion tokens of that run.")
    total_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(
        max_digits=20, decimal_places=10, default=0, help_text="US dollars of the run that wrote it."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"], name="message_session_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=["user", "assistant"]), name="message_role_valid"),
            models.CheckConstraint(condition=models.Q(status__in=MessageStatus.values), name="message_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"
