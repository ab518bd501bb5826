/* The event types of the run stream (docs/events.md) and the fields each carries.
 *
 * GENERATED from agents/events/catalogue.py by `python manage.py write_event_module`: do not edit.
 * A test fails when this file and the catalogue disagree. Besides these fields every event
 * carries type, run_id, session_id, seq and ts. Clients ignore types they do not know.
 */
export const EVENT = Object.freeze({
  SESSION: "session",
  ANALYSIS: "analysis",
  PLAN_CREATED: "plan_created",
  PLAN_REVISED: "plan_revised",
  STEP_START: "step_start",
  EXECUTOR_SPAWNED: "executor_spawned",
  TEXT: "text",
  THINKING: "thinking",
  TOOL_CALL: "tool_call",
  TOOL_RESULT: "tool_result",
  EXECUTOR_RESULT: "executor_result",
  STEP_COMPLETE: "step_complete",
  RETRY: "retry",
  APPROVAL_REQUIRED: "approval_required",
  APPROVAL_RESULT: "approval_result",
  RESUMED: "resumed",
  BUDGET_WARNING: "budget_warning",
  ERROR: "error",
  DONE: "done",
});

/** The fields of each event type (required and optional). */
export const FIELDS = Object.freeze({
  session: Object.freeze(["session"]),
  analysis: Object.freeze(["strategy", "reason"]),
  plan_created: Object.freeze(["plan"]),
  plan_revised: Object.freeze(["plan", "reason"]),
  step_start: Object.freeze(["step"]),
  executor_spawned: Object.freeze(["executor_id", "step_id", "task"]),
  text: Object.freeze(["delta", "agent_id"]),
  thinking: Object.freeze(["delta", "agent_id", "agent_kind"]),
  tool_call: Object.freeze(["call_id", "tool", "arguments", "agent_id", "agent_kind"]),
  tool_result: Object.freeze(["call_id", "tool", "ok", "result", "error", "duration_ms", "agent_id"]),
  executor_result: Object.freeze(["executor_id", "step_id", "status", "result", "usage", "duration_ms"]),
  step_complete: Object.freeze(["step"]),
  retry: Object.freeze(["attempt", "code", "delay_ms", "agent_id", "message"]),
  approval_required: Object.freeze(["approval"]),
  approval_result: Object.freeze(["approval"]),
  resumed: Object.freeze(["attempt", "reason", "answer_reset"]),
  budget_warning: Object.freeze(["scope", "used_usd", "limit_usd"]),
  error: Object.freeze(["code", "message", "fatal"]),
  done: Object.freeze(["status", "message_id", "usage", "duration_ms"]),
});

/** Run statuses while the run can still change (its stream can be joined). */
export const ACTIVE_STATUSES = Object.freeze(["queued", "running", "waiting"]);

/** Every run status. */
export const RUN_STATUSES = Object.freeze(["queued", "running", "waiting", "completed", "failed", "cancelled", "interrupted"]);
