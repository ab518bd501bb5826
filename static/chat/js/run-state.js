/* The state of one run on screen, as a pure reducer of its events.
 *
 * `reduceRun(state, event)` returns a new state (or the same object when the
 * event changes nothing: a replayed seq, an unknown type), so the view can
 * compare by identity. Nothing here touches the DOM. A run read back from
 * the API after a reload becomes the same shape through `runFromStored`.
 */
import { ACTIVE_STATUSES, EVENT } from "./events.js";

/** Return the state of a run no event has reached yet. */
export function initialRunState({ runId = null, sessionId = null } = {}) {
  return {
    runId,
    sessionId,
    lastSeq: 0,
    status: "running", // a run status (docs/events.md#run-statuses), or null for an answer with no run
    finished: false,
    route: null,
    routeReason: "",
    plan: null, // {id, objective, steps: [{id, title, instructions, dependsOn, status, result}]}
    executors: [], // [{id, stepId, task, status, result, usage, durationMs}]
    toolCalls: [], // [{id, tool, arguments, agentId, agentKind, status, result, error, durationMs}]
    thinking: [], // [{agentId, agentKind, text}]: each agent's reasoning and progress, never the answer

    approvals: [], // [{id, kind, tool, arguments, plan, expiresAt, decision, decidedArguments, reason, decidedBy}]
    answer: "",
    notes: [], // [{kind: "retry" | "warning" | "resumed", text}]
    error: null, // {code, message}: why the run failed or was interrupted
    attempt: 1,
    usage: null, // {prompt_tokens, completion_tokens, total_tokens, llm_calls}
    durationMs: null,
    messageId: null,
    messageStatus: "complete", // "incomplete": the answer was cut off (docs/api.md: a message's status)
  };
}

const STEP_STATUSES = new Set(["pending", "running", "completed", "failed", "skipped", "cancelled"]);

function planFrom(plan, previous) {
  const known = new Map((previous?.steps || []).map((step) => [String(step.id), step]));
  return {
    id: plan?.id ?? null,
    objective: plan?.objective || "",
    steps: (plan?.steps || []).map((step) => {
      const before = known.get(String(step.id));
      const status = STEP_STATUSES.has(step.status) ? step.status : before?.status || "pending";
      return {
        id: String(step.id),
        title: step.title || String(step.id),
        instructions: step.instructions || "",
        dependsOn: (step.depends_on || []).map(String),
        status,
        result: step.result ?? before?.result ?? "",
      };
    }),
  };
}

function replaceWhere(list, match, change) {
  let changed = false;
  const next = list.map((item) => {
    if (!match(item)) return item;
    changed = true;
    return { ...item, ...change(item) };
  });
  return changed ? next : list;
}

function withStep(state, stepId, change) {
  if (!state.plan || stepId === undefined || stepId === null) return state;
  const steps = replaceWhere(state.plan.steps, (step) => step.id === String(stepId), change);
  return steps === state.plan.steps ? state : { ...state, plan: { ...state.plan, steps } };
}

function seconds(ms) {
  return Math.round(ms / 100) / 10;
}

const REDUCERS = {
  [EVENT.SESSION]: (state) => state,

  [EVENT.ANALYSIS]: (state, event) => ({ ...state, route: event.strategy || null, routeReason: event.reason || "" }),

  [EVENT.PLAN_CREATED]: (state, event) => ({ ...state, plan: planFrom(event.plan, null) }),

  [EVENT.PLAN_REVISED]: (state, event) => ({
    ...state,
    plan: planFrom(event.plan, state.plan),
    notes: [...state.notes, { kind: "info", text: `The plan was revised${event.reason ? `: ${event.reason}` : "."}` }],
  }),

  [EVENT.STEP_START]: (state, event) => withStep(state, event.step?.id, () => ({ status: "running" })),

  [EVENT.STEP_COMPLETE]: (state, event) =>
    withStep(state, event.step?.id, (step) => ({
      status: STEP_STATUSES.has(event.step?.status) ? event.step.status : "completed",
      result: event.step?.result ?? step.result,
    })),

  [EVENT.EXECUTOR_SPAWNED]: (state, event) => ({
    ...state,
    executors: [
      ...state.executors,
      {
        id: String(event.executor_id),
        stepId: event.step_id === undefined || event.step_id === null ? null : String(event.step_id),
        task: event.task?.instructions || event.task?.title || "",
        status: "running",
        result: "",
        usage: null,
        durationMs: null,
      },
    ],
  }),

  [EVENT.EXECUTOR_RESULT]: (state, event) => {
    const executors = replaceWhere(
      state.executors,
      (executor) => executor.id === String(event.executor_id),
      () => ({
        status: event.status || "completed",
        result: event.result ?? "",
        usage: event.usage || null,
        durationMs: typeof event.duration_ms === "number" ? event.duration_ms : null,
      }),
    );
    return executors === state.executors ? state : { ...state, executors };
  },

  [EVENT.TOOL_CALL]: (state, event) => ({
    ...state,
    toolCalls: [
      ...state.toolCalls,
      {
        id: String(event.call_id),
        tool: event.tool || "",
        arguments: event.arguments ?? {},
        agentId: event.agent_id === undefined ? null : String(event.agent_id),
        agentKind: event.agent_kind || null,
        status: "running",
        result: null,
        error: null,
        durationMs: null,
      },
    ],
  }),

  [EVENT.TOOL_RESULT]: (state, event) => {
    const toolCalls = replaceWhere(
      state.toolCalls,
      (call) => call.id === String(event.call_id),
      () => ({
        status: event.ok ? "ok" : "failed",
        result: event.ok ? (event.result ?? null) : null,
        error: event.ok ? null : event.error || { code: "error", message: "" },
        durationMs: typeof event.duration_ms === "number" ? event.duration_ms : null,
      }),
    );
    return toolCalls === state.toolCalls ? state : { ...state, toolCalls };
  },

  [EVENT.TEXT]: (state, event) => (event.delta ? { ...state, answer: state.answer + event.delta } : state),

  [EVENT.THINKING]: (state, event) => {
    if (!event.delta) return state;
    const agentId = String(event.agent_id ?? "");
    const known = state.thinking.some((entry) => entry.agentId === agentId);
    const thinking = known
      ? replaceWhere(state.thinking, (entry) => entry.agentId === agentId, (entry) => ({ text: entry.text + event.delta }))
      : [...state.thinking, { agentId, agentKind: event.agent_kind === "executor" ? "executor" : "planner", text: event.delta }];
    return { ...state, thinking };
  },

  [EVENT.RETRY]: (state, event) => {
    const wait = typeof event.delay_ms === "number" && event.delay_ms > 0 ? ` in ${seconds(event.delay_ms)} s` : "";
    return { ...state, notes: [...state.notes, { kind: "retry", text: `The model was busy; trying again${wait}…` }] };
  },

  [EVENT.APPROVAL_REQUIRED]: (state, event) => {
    const approval = approvalFrom(event.approval);
    if (!approval.id || state.approvals.some((known) => known.id === approval.id)) return state;
    return { ...state, status: "waiting", approvals: [...state.approvals, approval] };
  },

  [EVENT.APPROVAL_RESULT]: (state, event) => {
    const decided = event.approval || {};
    const approvals = replaceWhere(
      state.approvals,
      (approval) => approval.id === String(decided.id),
      () => ({
        decision: decided.decision || "rejected",
        decidedArguments: decided.arguments ?? null,
        reason: decided.reason || "",
        decidedBy: decided.decided_by ?? null,
      }),
    );
    if (approvals === state.approvals) return state;
    // Decided while its owner still held the run: no `resumed` follows, the run simply goes on.
    const pending = approvals.some((approval) => !approval.decision);
    return { ...state, approvals, status: state.status === "waiting" && !pending ? "running" : state.status };
  },

  [EVENT.RESUMED]: (state, event) => {
    const why = event.reason === "approval" ? " after your decision" : " after a server restart";
    return {
      ...state,
      status: "running",
      attempt: typeof event.attempt === "number" ? event.attempt : state.attempt + 1,
      answer: event.answer_reset ? "" : state.answer,
      notes: [...state.notes, { kind: "resumed", text: `The run was picked up again${why}.` }],
    };
  },

  [EVENT.BUDGET_WARNING]: (state, event) => {
    const scope = event.scope === "run" ? "this run's cost limit" : "today's budget";
    const used = formatUsd(event.used_usd);
    const limit = formatUsd(event.limit_usd);
    const share = Number(event.used_usd) / Number(event.limit_usd);
    // Sent at 80 % or more: say how much, floored (never "100 %" before the limit is reached).
    const percent = Number.isFinite(share) && share > 0 ? `${Math.floor(share * 100)}% of ${scope} used` : `most of ${scope} used`;
    return { ...state, notes: [...state.notes, { kind: "warning", text: `${percent}: ${used} of ${limit}.` }] };
  },

  [EVENT.ERROR]: (state, event) => {
    if (event.fatal) return { ...state, error: { code: event.code || "error", message: event.message || "" } };
    return { ...state, notes: [...state.notes, { kind: "warning", text: event.message || event.code || "" }] };
  },

  [EVENT.DONE]: (state, event) => finish(state, {
    status: event.status || "completed",
    usage: event.usage || null,
    durationMs: typeof event.duration_ms === "number" ? event.duration_ms : null,
    messageId: event.message_id || null,
  }),
};

/** Return an approval as the state keeps it, from an event's or the API's approval. */
export function approvalFrom(approval) {
  return {
    id: approval?.id ? String(approval.id) : "",
    kind: approval?.kind === "plan" ? "plan" : "tool",
    tool: approval?.tool || "",
    arguments: approval?.arguments ?? null,
    plan: approval?.plan ?? null,
    expiresAt: approval?.expires_at || null,
    decision: approval?.decision || null,
    decidedArguments: approval?.decided_arguments ?? null,
    reason: approval?.reason || "",
    decidedBy: approval?.decided_by ?? null,
  };
}

/** Return the state with the run's approvals as the API lists them (a run read back after a reload). */
export function withApprovals(state, approvals) {
  if (!Array.isArray(approvals) || !approvals.length) return state;
  const listed = [...approvals].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  return { ...state, approvals: listed.map(approvalFrom) };
}

/** Close what was still open when a run ended: running steps, executors and tool calls end with it. */
function finish(state, { status, usage, durationMs, messageId }) {
  const ended = status === "cancelled" ? "cancelled" : status === "completed" ? "completed" : "failed";
  const plan = state.plan && {
    ...state.plan,
    steps: state.plan.steps.map((step) => (step.status === "running" ? { ...step, status: ended } : step)),
  };
  return {
    ...state,
    status,
    finished: true,
    usage,
    durationMs,
    messageId,
    plan,
    executors: state.executors.map((executor) => (executor.status === "running" ? { ...executor, status: ended } : executor)),
    toolCalls: state.toolCalls.map((call) => (call.status === "running" ? { ...call, status: "failed", error: { code: ended, message: "" } } : call)),
    // A run that ends any other way than `completed` stores its answer so far as `incomplete`.
    messageStatus: status !== "completed" && state.answer.trim() ? "incomplete" : "complete",
  };
}

/**
 * Apply one event. Events at or below the last seq seen are replays (a
 * rejoined stream starts again after Last-Event-ID, but a retried request
 * may overlap) and change nothing; so does an unknown type, apart from its seq.
 */
/** Dollars as people read them: cents above one dollar, four places below. */
export function formatUsd(value) {
  const amount = Number(value);
  if (!Number.isFinite(amount)) return "$?";
  return amount >= 1 ? `$${amount.toFixed(2)}` : `$${amount.toFixed(4)}`;
}

/**
 * The run's cost as its footer shows it, or "" when there is nothing worth showing.
 *
 * A run that cost nothing (the offline model, a failed first call) shows no
 * price at all: "$0.0000" under an answer reads as a bill. A cost too small
 * for four places is "<$0.0001"; one where some call's model had no known
 * price is a floor, marked "+".
 */
export function costLabel(usage) {
  const amount = Number(usage?.cost_usd);
  if (!Number.isFinite(amount) || amount <= 0) return "";
  const shown = amount < 0.0001 ? "<$0.0001" : formatUsd(amount);
  return usage.cost_known === false ? `${shown}+` : shown;
}

/**
 * Split a run's error message into what a person reads and what support needs.
 *
 * The server writes "The model service refused the request (bad_request)
 * (reference: run <id>)."; the sentence is shown as is, the code and the run
 * reference go on a quieter line of their own.
 */
export function errorParts(message) {
  const match = /^(.*?)(?:\s*\(([a-z][a-z0-9_]*)\))?(?:\s*\(reference: ([^)]+)\))?\.?$/s.exec(String(message ?? "").trim());
  const [, text = "", code = "", reference = ""] = match || [];
  const support = [code, reference].filter(Boolean).join(", ");
  return { text: text ? `${text}.` : "", support };
}

export function reduceRun(state, event) {
  if (!event || typeof event !== "object") return state;
  if (typeof event.seq === "number") {
    if (event.seq <= state.lastSeq) return state;
  }
  if (state.finished) return state; // `done` is last, exactly once
  const reducer = REDUCERS[event.type];
  let next = reducer ? reducer(state, event) : state;
  const ids = {};
  if (event.run_id && event.run_id !== state.runId) ids.runId = event.run_id;
  if (event.session_id && event.session_id !== state.sessionId) ids.sessionId = event.session_id;
  const seq = typeof event.seq === "number" ? { lastSeq: event.seq } : {};
  if (next === state && !Object.keys(ids).length && !seq.lastSeq) return state;
  next = { ...next, ...ids, ...seq };
  return next;
}

/** Fold a list of events into a state. */
export function reduceEvents(events, state = initialRunState()) {
  return events.reduce(reduceRun, state);
}

/**
 * Return the state of a stored run (GET /api/sessions/<id>/runs/ item, and
 * optionally GET /api/agent/runs/<id> for its plan and executions) with its
 * answer (the assistant message, or null).
 */
export function runFromStored(run, answer = null, detail = null) {
  const active = ACTIVE_STATUSES.includes(run.status);
  const state = initialRunState({ runId: run.id, sessionId: run.session_id || detail?.session_id || null });
  const usage = {
    prompt_tokens: run.prompt_tokens ?? detail?.usage?.prompt_tokens ?? 0,
    completion_tokens: run.completion_tokens ?? detail?.usage?.completion_tokens ?? 0,
    total_tokens: run.total_tokens ?? detail?.usage?.total_tokens ?? 0,
    llm_calls: run.llm_calls ?? detail?.usage?.llm_calls ?? 0,
    cost_usd: run.cost_usd ?? detail?.usage?.cost_usd ?? null,
    cost_known: run.cost_known ?? detail?.usage?.cost_known ?? true,
  };
  const errorCode = run.error_code ?? detail?.error?.code ?? "";
  const errorMessage = run.error_message ?? detail?.error?.message ?? "";
  const plan = detail?.plan ? planFrom(detail.plan, null) : null;
  const executors = (detail?.executions || []).map((execution) => ({
    id: String(execution.agent_id || execution.id),
    stepId: execution.step_id ? String(execution.step_id) : null,
    task: "",
    status: execution.status,
    result: execution.result || "",
    usage: execution.usage || null,
    durationMs: null,
  }));
  return {
    ...state,
    lastSeq: 0,
    status: run.status,
    finished: !active,
    route: run.route || null,
    routeReason: run.route_reason || detail?.route_reason || "",
    plan,
    executors,
    answer: answer?.content || "",
    error: errorCode || errorMessage ? { code: errorCode, message: errorMessage } : null,
    usage: active ? null : usage,
    durationMs: run.duration_ms ?? detail?.timings?.duration_ms ?? null,
    messageId: answer?.id || null,
    messageStatus: answer?.status || "complete",
  };
}

/** Return the state of an answer that no run wrote (imported history). */
export function answerOnly(message) {
  return {
    ...initialRunState(),
    status: null,
    finished: true,
    answer: message.content || "",
    messageId: message.id,
    messageStatus: message.status || "complete",
  };
}
