"""The HTTP layer's serializers: what the runs API shows of a run, and the stream request body it accepts.

A run shows explicit fields only, never prompts or agent conversations.
"""

import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from agents.models import Execution, Plan, PlanStep, Run
from agents.runs import queue
from agents.runs import services as run_services
from agents.runs.conversation_import import history_problem
from agents.storable import unstorable_reason
from agents_platform.errors import InvalidInput


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    llm_calls = serializers.IntegerField()
    cost_usd = serializers.DecimalField(
        max_digits=20, decimal_places=10, coerce_to_string=False, help_text="US dollars of the LLM calls."
    )
    cost_known = serializers.BooleanField(help_text="False when some call's model had no known price (counted as 0).")


class RunTimingsSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(
        allow_null=True, help_text="Start (or creation) to finish; null while active."
    )


class RunErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class PlanStepSerializer(serializers.ModelSerializer):
    depends_on = serializers.SerializerMethodField(
        help_text="Ids of the steps this one waits for (as in plan_created)."
    )

    class Meta:
        model = PlanStep
        fields = ["id", "key", "title", "instructions", "depends_on", "status", "result", "started_at", "finished_at"]
        read_only_fields = fields

    def get_depends_on(self, step: PlanStep) -> list[str]:
        # In written order, as selectors.plan_steps_in_order prefetches them (the runs API loads the plan so).
        return [str(dependency.pk) for dependency in step.depends_on.all()]


class PlanSerializer(serializers.ModelSerializer):
    steps = PlanStepSerializer(many=True, read_only=True)

    class Meta:
        model = Plan
        fields = ["id", "objective", "version", "steps"]
        read_only_fields = fields


class ExecutionSerializer(serializers.ModelSerializer):
    usage = serializers.SerializerMethodField()
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True, help_text="Null while it runs.")

    class Meta:
        model = Execution
        fields = ["id", "step_id", "agent_id", "status", "result", "usage", "started_at", "finished_at", "duration_ms"]
        read_only_fields = fields

    @extend_schema_field(UsageSerializer)
    def get_usage(self, execution: Execution) -> dict:
        return UsageSerializer(execution).data


class RunDetailSerializer(serializers.ModelSerializer):
    """A run as its owner sees it: status, route, usage, timings, plan with steps, executions."""

    session_id = serializers.UUIDField(read_only=True)
    user_message_id = serializers.UUIDField(read_only=True, help_text="The user's message this run answers.")
    assistant_message_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="The answer, once stored.")
    usage = serializers.SerializerMethodField()
    timings = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField(help_text="Why the run failed or was interrupted; null otherwise.")
    plan = serializers.SerializerMethodField(help_text="Complex route only: the plan and its steps.")
    executions = ExecutionSerializer(many=True, read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "session_id",
            "status",
            "route",
            "route_reason",
            "usage",
            "timings",
            "error",
            "user_message_id",
            "assistant_message_id",
            "last_event_seq",
            "plan",
            "executions",
        ]
        read_only_fields = fields

    @extend_schema_field(UsageSerializer)
    def get_usage(self, run: Run) -> dict:
        return UsageSerializer(run).data

    @extend_schema_field(RunTimingsSerializer)
    def get_timings(self, run: Run) -> dict:
        return RunTimingsSerializer(run).data

    @extend_schema_field(RunErrorSerializer(allow_null=True))
    def get_error(self, run: Run) -> dict | None:
        if not run.error_code:
            return None
        return RunErrorSerializer({"code": run.error_code, "message": run.error_message}).data

    @extend_schema_field(PlanSerializer(allow_null=True))
    def get_plan(self, run: Run) -> dict | None:
        plan = run.plan
        return None if plan is None else PlanSerializer(plan).data


# --- The body of POST /api/agent/stream (also what AG-UI and the AI SDK requests map onto) -------------

REQUEST_NOT_AN_OBJECT = "The body must be a JSON object."


def _contract_error(detail: Any) -> InvalidInput:
    """Return the contract's 400 for a serializer's errors: ``code`` names the first bad field, ``fields`` all."""
    if not isinstance(detail, dict) or api_settings.NON_FIELD_ERRORS_KEY in detail:
        return InvalidInput(REQUEST_NOT_AN_OBJECT, code="invalid_body")
    fields = {name: [str(problem) for problem in problems] for name, problems in detail.items()}
    first = next(iter(fields))
    return InvalidInput(f"Invalid field '{first}': {fields[first][0]}", code=f"invalid_{first}", fields=fields)


class MessageField(serializers.Field):
    """The user's message: a string, 1..AGENT_MAX_MESSAGE_CHARS characters once trimmed, storable."""

    default_error_messages = {"null": "This field is required."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        message = data.strip()
        if not message:
            raise serializers.ValidationError("Must not be empty.")
        if len(message) > settings.AGENT_MAX_MESSAGE_CHARS:
            raise serializers.ValidationError(f"Must be at most {settings.AGENT_MAX_MESSAGE_CHARS} characters.")
        if problem := unstorable_reason(message):
            raise serializers.ValidationError(problem)
        return message


class SessionIdField(serializers.Field):
    """A session id: a UUID string (any form ``uuid.UUID`` reads), or null."""

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if isinstance(data, str):
            try:
                return uuid.UUID(data)
            except ValueError:
                pass
        raise serializers.ValidationError("Must be a UUID or null.")


class LabelField(serializers.Field):
    """A short storable label (``context_type``, ``entity_id``): at most ``max_chars``, trimmed; blank is null."""

    def __init__(self, *, max_chars: int, **kwargs: Any):
        self.max_chars = max_chars
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str | None:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string or null.")
        if len(data) > self.max_chars:
            raise serializers.ValidationError(f"Must be at most {self.max_chars} characters.")
        if problem := unstorable_reason(data):
            raise serializers.ValidationError(problem)
        return data.strip() or None


class MultitaskField(serializers.Field):
    """What to do when the session already has an active run: one of ``queue.MULTITASK_STRATEGIES``."""

    def to_internal_value(self, data: Any) -> str:
        if data not in queue.MULTITASK_STRATEGIES:
            raise serializers.ValidationError(f"Must be one of {', '.join(queue.MULTITASK_STRATEGIES)}, or null.")
        return data


class ConversationHistoryField(serializers.Field):
    """Earlier turns to import into a new session (``runs.conversation_import``); an empty list is none."""

    def to_internal_value(self, data: Any) -> list[tuple[str, str]] | None:
        history, problem = history_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        return history


class StrictBooleanField(serializers.Field):
    """A JSON boolean: ``true`` or ``false``, nothing that merely reads as one."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be a boolean.")
        return data


class StreamRequestSerializer(serializers.Serializer):
    """Validate the body of ``POST /api/agent/stream`` (docs/api.md); other fields are ignored.

    ``is_valid(raise_exception=True)`` raises the contract's InvalidInput:
    400, ``code`` ``invalid_<first bad field>`` (``invalid_body`` for a body
    that is not a JSON object), ``fields`` naming each bad field. Its
    ``validated_data`` are ``admission.run_accept``'s keyword arguments.
    """

    default_error_messages = {"invalid": REQUEST_NOT_AN_OBJECT}

    message = MessageField()
    session_id = SessionIdField(allow_null=True, default=None)
    context_type = LabelField(max_chars=run_services.CONTEXT_TYPE_MAX_CHARS, allow_null=True, default=None)
    entity_id = LabelField(max_chars=run_services.ENTITY_ID_MAX_CHARS, allow_null=True, default=None)
    multitask = MultitaskField(allow_null=True, default=None)
    conversation_history = ConversationHistoryField(allow_null=True, default=None)
    review_plan = StrictBooleanField(allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["multitask"] = attrs["multitask"] or queue.REJECT
        attrs["review_plan"] = bool(attrs["review_plan"])
        return attrs

    def is_valid(self, *, raise_exception: bool = False) -> bool:
        try:
            return super().is_valid(raise_exception=raise_exception)
        except serializers.ValidationError as exc:
            raise _contract_error(exc.detail) from None


def stream_request(payload: Any) -> dict[str, Any]:
    """Return the clean fields of a stream request body, or raise the contract's InvalidInput."""
    serializer = StreamRequestSerializer(data=payload)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
