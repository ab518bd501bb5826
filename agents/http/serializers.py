"""What the runs API shows of a run: explicit fields only, never prompts or agent conversations."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Execution, Plan, PlanStep, Run


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
