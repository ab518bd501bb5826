/* The event types of the run stream (CONTRACT.md section 4) that the chat reads.
 *
 * One place names them, so the rest of the UI never spells a type by hand.
 * Types not listed here (thinking: not shown yet) are ignored, as the
 * contract asks of clients.
 */
export const EVENT = Object.freeze({
  SESSION: "session",
  ANALYSIS: "analysis",
  PLAN_CREATED: "plan_created",
  PLAN_REVISED: "plan_revised",
  STEP_START: "step_start",
  STEP_COMPLETE: "step_complete",
  EXECUTOR_SPAWNED: "executor_spawned",
  EXECUTOR_RESULT: "executor_result",
  TOOL_CALL: "tool_call",
  TOOL_RESULT: "tool_result",
  TEXT: "text",
  RETRY: "retry",
  RESUMED: "resumed",
  APPROVAL_REQUIRED: "approval_required",
  APPROVAL_RESULT: "approval_result",
  BUDGET_WARNING: "budget_warning",
  ERROR: "error",
  DONE: "done",
});

/** Run statuses while the run can still change (its stream can be joined). */
export const ACTIVE_STATUSES = Object.freeze(["queued", "running", "waiting"]);
