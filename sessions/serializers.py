"""What the history API shows of sessions and messages: explicit fields only."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from agents_platform.schema import trimmed_text_pattern

from .models import ChatSession, Message
from .services import TITLE_MAX_CHARS


class SessionSerializer(serializers.ModelSerializer):
    """A session as its owner sees it; the owner itself is never shown."""

    message_count = serializers.IntegerField(read_only=True, help_text="Messages in the session.")
    total_tokens = serializers.IntegerField(read_only=True, help_text="LLM tokens spent on the session's answers.")

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
        ]
        read_only_fields = fields


@extend_schema_field(
    {
        "type": "string",
        "description": f"1..{TITLE_MAX_CHARS} characters after trimming; no NUL.",
        "pattern": trimmed_text_pattern(TITLE_MAX_CHARS),
    }
)
class TitleField(serializers.CharField):
    """A title: a JSON string (DRF's CharField also takes numbers), at most 200 characters once trimmed.

    The limit is checked here, not with ``max_length``, whose validator spectacular
    would publish as a ``maxLength`` of the untrimmed text. A blank title passes
    through to the service, which refuses it as ``invalid_title`` (the field is
    not ``allow_blank``, so the schema does not offer blank titles).
    """

    def run_validation(self, data=empty):
        if isinstance(data, str) and not data.strip():
            return ""
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        title = super().to_internal_value(data)
        if len(title) > TITLE_MAX_CHARS:
            self.fail("max_length", max_length=TITLE_MAX_CHARS)
        return title


class SessionUpdateSerializer(serializers.Serializer):
    """The one field PATCH may change; any other field of the body is ignored."""

    title = TitleField(required=False)


class MessageSerializer(serializers.ModelSerializer):
    """A message of the history; ``status`` says whether an answer was cut off before it was finished."""

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
            "created_at",
        ]
        read_only_fields = fields
