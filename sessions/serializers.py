"""What the history API shows of sessions and messages: explicit fields only."""

from rest_framework import serializers

from .models import ChatSession, Message


class SessionSerializer(serializers.ModelSerializer):
    """A session as its owner sees it; the owner itself is never shown."""

    message_count = serializers.IntegerField(read_only=True, help_text="Messages in the session.")
    total_tokens = serializers.IntegerField(read_only=True, help_text="LLM tokens spent on the session's answers.")
    cost_usd = serializers.DecimalField(
        max_digits=20,
        decimal_places=10,
        coerce_to_string=False,
        read_only=True,
        help_text="US dollars of every LLM call made for the session.",
    )

    class Meta:
        model = ChatSession
        fields = [
            "id",
            "title",
            "context_type",
            "entity_id",
            "created_at",
            "updated_at",
            "message_count",
            "total_tokens",
            "cost_usd",
        ]
        read_only_fields = fields


class SessionUpdateSerializer(serializers.Serializer):
    """The one field PATCH may change; any other field of the body is ignored."""

    title = serializers.CharField(max_length=200, required=False, allow_blank=True, trim_whitespace=True)


class MessageSerializer(serializers.ModelSerializer):
    """A message of the history; ``status`` says whether an answer was cut off before it was finished."""

    cost_usd = serializers.DecimalField(
        max_digits=20, decimal_places=10, coerce_to_string=False, read_only=True, help_text="US dollars of its run."
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "content",
            "status",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost_usd",
            "created_at",
        ]
        read_only_fields = fields
