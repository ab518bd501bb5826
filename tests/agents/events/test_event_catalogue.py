"""The event catalogue is the one definition of the event contract: payloads, the OpenAPI components, the UI module."""

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings

from agents import events
from agents.events import catalogue, exports
from agents.management.commands.write_event_module import module_text
from agents.models import RunEvent
from tests.factories import make_run

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
USAGE = catalogue.Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12, llm_calls=1, cost_usd=0.001)
PLAN = catalogue.PlanInfo(
    id="5b0f3c1e-7d7a-4e0e-9a43-7f3f1b7d2a10",
    objective="Compare",
    steps=[
        catalogue.PlanStepInfo(
            id="s1", title="X", instructions="Look at X", depends_on=[], status="completed", result="x"
        ),
        catalogue.PlanStepInfo(id="s2", title="Y", instructions="Look at Y", depends_on=["s1"], status="pending"),
    ],
)
SAMPLES: dict[str, catalogue.Event] = {
    "session": catalogue.SessionEvent(
        session=catalogue.SessionInfo(
            id="0d9e5b8c-1f52-4c7b-8f3e-3e4f5a6b7c8d", title="t", context_type="general", entity_id=None, created_at=NOW
        )
    ),
    "analysis": catalogue.AnalysisEvent(strategy="complex", reason="two subjects"),
    "plan_created": catalogue.PlanCreatedEvent(plan=PLAN),
    "plan_revised": catalogue.PlanRevisedEvent(plan=PLAN, reason="step Y failed"),
    "step_start": catalogue.StepStartEvent(step=catalogue.StepRef(id="s1", title="X", key="x")),
    "executor_spawned": catalogue.ExecutorSpawnedEvent(
        executor_id="e1", step_id="s1", task=catalogue.TaskInfo(title="X", instructions="Look at X")
    ),
    "text": catalogue.TextEvent(delta='</script><b>"hi"</b>\n\ndata: forged', agent_id="a1"),
    "thinking": catalogue.ThinkingEvent(delta="Let me see…", agent_id="a1", agent_kind="executor"),
    "tool_call": catalogue.ToolCallEvent(
        call_id="c1", tool="calculate", arguments={"expression": "2+2"}, agent_id="a1", agent_kind="planner"
    ),
    "tool_result": catalogue.ToolResultEvent(
        call_id="c1",
        tool="calculate",
        ok=False,
        error=catalogue.ToolError(code="rejected", message="no"),
        duration_ms=3,
        agent_id="a1",
    ),
    "executor_result": catalogue.ExecutorResultEvent(
        executor_id="e1", step_id="s1", status="completed", result="found", usage=USAGE, duration_ms=40
    ),
    "step_complete": catalogue.StepCompleteEvent(
        step=catalogue.StepResult(id="s1", key="x", status="skipped", result="Skipped: X did not complete.")
    ),
    "retry": catalogue.RetryEvent(attempt=1, code="rate_limited", delay_ms=500, agent_id="a1", message="busy"),
    "approval_required": catalogue.ApprovalRequiredEvent(
        approval=catalogue.ApprovalRequest(
            id="ap1",
            kind="tool",
            tool="remember",
            arguments={"content": "tea"},
            plan=None,
            agent_id="a1",
            expires_at=NOW,
        )
    ),
    "approval_result": catalogue.ApprovalResultEvent(
        approval=catalogue.ApprovalDecision(
            id="ap1", decision="approved", arguments={"content": "tea"}, reason="", decided_by="alice"
        )
    ),
    "resumed": catalogue.ResumedEvent(attempt=2, reason="worker_lost", answer_reset=True),
    "budget_warning": catalogue.BudgetWarningEvent(scope="run", used_usd=0.8, limit_usd=1.0),
    "error": catalogue.ErrorEvent(code="model_error", message="The model failed.", fatal=True),
    "done": catalogue.DoneEvent(
        status="completed", message_id="9a3e0c55-3b5e-4a4c-8d7e-6c1c3f8a9b0e", usage=USAGE, duration_ms=120
    ),
}


def _json_schema(node):
    """OpenAPI 3.0 to JSON Schema for the validator: ``nullable`` becomes a ``null`` alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key not in ("nullable", "discriminator")}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@pytest.fixture(scope="module")
def validator(django_db_blocker):
    with django_db_blocker.unblock():
        from drf_spectacular.generators import SchemaGenerator

        schema = SchemaGenerator().get_schema(request=None, public=True)
    document = {"components": {"schemas": _json_schema(schema["components"]["schemas"])}}
    return jsonschema.Draft7Validator({**document, "$ref": "#/components/schemas/RunEvent"})


def test_the_samples_cover_every_event_type():
    assert set(SAMPLES) == set(catalogue.EVENTS)
    assert all(SAMPLES[name].type == name for name in SAMPLES)


@pytest.mark.django_db
def test_every_event_type_round_trips_through_emit_and_validates_against_its_component(user, validator):
    run = make_run(user)
    for sample in SAMPLES.values():
        if sample.closing:
            continue  # error and done close the run: emitted last
        events.emit(run, sample)
    events.emit(run, SAMPLES["error"], SAMPLES["done"])
    stored = list(RunEvent.objects.filter(run=run).order_by("seq"))
    assert [event.type for event in stored] == [*[t for t in SAMPLES if t not in ("error", "done")], "error", "done"]
    for seq, event in enumerate(stored, start=1):
        frame = json.loads(event.frame)
        assert "\n" not in event.frame  # one line: model text can never forge a frame
        assert frame == event.data
        assert (frame["seq"], frame["run_id"], frame["session_id"]) == (seq, str(run.pk), str(run.session_id))
        validator.validate(frame)
        own = {k: v for k, v in frame.items() if k not in events.RESERVED_FIELDS}
        assert own == SAMPLES[event.type].payload()


def test_the_generated_schema_refuses_what_the_contract_refuses(validator):
    base = {"run_id": "0d9e5b8c-1f52-4c7b-8f3e-3e4f5a6b7c8d", "session_id": "x", "seq": 1, "ts": "2026-11-29T12:00:00Z"}
    validator.validate({**base, "type": "retry", "attempt": 1, "code": "x", "delay_ms": 5, "agent_id": "a"})
    bad = [
        {**base, "type": "retry", "attempt": 1, "code": "x", "delay_s": 5, "agent_id": "a"},  # the old drift
        {**base, "type": "done", "status": "finished", "message_id": None, "usage": {}, "duration_ms": None},
        {**base, "type": "analysis", "strategy": "simple"},  # reason is required
        {**base, "type": "resumed", "attempt": 1, "reason": "worker_lost", "answer_reset": False},  # attempt >= 2
    ]
    for frame in bad:
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(frame)


def test_optional_fields_are_sent_only_when_set_and_required_ones_always():
    ok = catalogue.ToolResultEvent(call_id="c", tool="t", ok=True, result=None, duration_ms=1, agent_id="a")
    assert ok.payload() == {"call_id": "c", "tool": "t", "ok": True, "result": None, "duration_ms": 1, "agent_id": "a"}
    done = catalogue.DoneEvent(status="cancelled", message_id=None, usage=catalogue.Usage(), duration_ms=None)
    assert done.payload()["message_id"] is None and "message_id" in done.payload()


def test_the_ui_event_module_is_generated_from_the_catalogue():
    path = Path(settings.BASE_DIR) / exports.JS_MODULE_PATH
    assert path.read_text() == module_text(), "run `python manage.py write_event_module`"
    for name, cls in catalogue.EVENTS.items():
        assert f'{name.upper()}: "{name}"' in module_text()
        assert all(f'"{field}"' in module_text() for field in cls.model_fields)
