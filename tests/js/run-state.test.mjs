// Unit tests of static/chat/js/run-state.js: the run-state reducer.
import assert from "node:assert/strict";
import { test } from "node:test";

import { answerOnly, costLabel, errorParts, initialRunState, reduceEvents, reduceRun, runFromStored, withApprovals } from "../../static/chat/js/run-state.js";

const RUN = "11111111-1111-4111-8111-111111111111";
const SESSION = "22222222-2222-4222-8222-222222222222";

/** Number a list of events 1, 2, 3… as the server does. */
const numbered = (...events) => events.map((event, i) => ({ run_id: RUN, session_id: SESSION, seq: i + 1, ...event }));

const PLAN = {
  id: "p1",
  objective: "Compare tea and coffee",
  steps: [
    { id: "s1", title: "Tea", instructions: "Research tea", depends_on: [], status: "pending" },
    { id: "s2", title: "Coffee", instructions: "Research coffee", depends_on: [], status: "pending" },
    { id: "s3", title: "Pick", instructions: "Recommend", depends_on: ["s1", "s2"], status: "pending" },
  ],
};

test("a complex run: plan, steps, executors, tool calls, answer and usage", () => {
  const state = reduceEvents(
    numbered(
      { type: "session", session: { id: SESSION } },
      { type: "analysis", strategy: "complex", reason: "two subjects" },
      { type: "plan_created", plan: PLAN },
      { type: "step_start", step: { id: "s1", title: "Tea" } },
      { type: "executor_spawned", executor_id: "e1", step_id: "s1", task: { title: "Tea", instructions: "Research tea" } },
      { type: "tool_call", call_id: "c1", tool: "calculate", arguments: { expression: "1+1" }, agent_id: "e1", agent_kind: "executor" },
      { type: "tool_result", call_id: "c1", tool: "calculate", ok: true, result: { value: 2 }, duration_ms: 3, agent_id: "e1" },
      { type: "executor_result", executor_id: "e1", step_id: "s1", status: "completed", result: "Tea is calm.", usage: { total_tokens: 40 } },
      { type: "step_complete", step: { id: "s1", status: "completed", result: "Tea is calm." } },
      { type: "text", delta: "Tea ", agent_id: "p" },
      { type: "text", delta: "wins.", agent_id: "p" },
      { type: "done", status: "completed", message_id: "m1", usage: { total_tokens: 120, llm_calls: 4 }, duration_ms: 900 },
    ),
  );
  assert.equal(state.runId, RUN);
  assert.equal(state.sessionId, SESSION);
  assert.equal(state.lastSeq, 12);
  assert.equal(state.route, "complex");
  assert.equal(state.routeReason, "two subjects");
  assert.deepEqual(
    state.plan.steps.map((step) => [step.id, step.status, step.dependsOn]),
    [
      ["s1", "completed", []],
      ["s2", "pending", []],
      ["s3", "pending", ["s1", "s2"]],
    ],
  );
  assert.equal(state.plan.steps[0].result, "Tea is calm.");
  assert.deepEqual(state.executors.map((e) => [e.id, e.stepId, e.status, e.result]), [["e1", "s1", "completed", "Tea is calm."]]);
  assert.deepEqual(state.toolCalls.map((c) => [c.id, c.agentId, c.status, c.result, c.durationMs]), [["c1", "e1", "ok", { value: 2 }, 3]]);
  assert.equal(state.answer, "Tea wins.");
  assert.equal(state.finished, true);
  assert.equal(state.status, "completed");
  assert.equal(state.messageStatus, "complete");
  assert.deepEqual([state.usage.total_tokens, state.durationMs, state.messageId], [120, 900, "m1"]);
});

test("a replayed or repeated seq changes nothing (same object back)", () => {
  const events = numbered({ type: "analysis", strategy: "simple" }, { type: "text", delta: "Hello" });
  const state = reduceEvents(events);
  for (const event of events) assert.equal(reduceRun(state, event), state);
  assert.equal(state.answer, "Hello");
});

test("events after done are refused: done is last", () => {
  const state = reduceEvents(numbered({ type: "text", delta: "A" }, { type: "done", status: "completed" }));
  assert.equal(reduceRun(state, { type: "text", delta: "B", seq: 3 }), state);
});

test("unknown types are ignored but their seq is taken", () => {
  const state = reduceEvents(numbered({ type: "text", delta: "x" }, { type: "approval_required", approval: {} }));
  assert.equal(state.lastSeq, 2);
  assert.equal(state.answer, "x");
});

test("resumed with answer_reset drops the text so far; without it keeps it", () => {
  const reset = reduceEvents(
    numbered({ type: "text", delta: "Hello wor" }, { type: "resumed", attempt: 2, reason: "worker_lost", answer_reset: true }, { type: "text", delta: "Hello world." }),
  );
  assert.equal(reset.answer, "Hello world.");
  assert.equal(reset.attempt, 2);
  assert.deepEqual(reset.notes.map((n) => n.kind), ["resumed"]);
  const kept = reduceEvents(numbered({ type: "text", delta: "Hello" }, { type: "resumed", attempt: 2, reason: "drained", answer_reset: false }));
  assert.equal(kept.answer, "Hello");
});

test("retry notes show the wait in seconds from delay_ms", () => {
  const state = reduceEvents(numbered({ type: "retry", attempt: 1, code: "rate_limited", delay_ms: 1500 }, { type: "retry", attempt: 2, code: "x" }));
  assert.deepEqual(state.notes.map((n) => n.text), ["The model was busy; trying again in 1.5 s…", "The model was busy; trying again…"]);
});

test("stopped mid-answer: the answer is kept and marked incomplete; running work ends cancelled", () => {
  const state = reduceEvents(
    numbered(
      { type: "analysis", strategy: "complex" },
      { type: "plan_created", plan: PLAN },
      { type: "step_start", step: { id: "s1" } },
      { type: "executor_spawned", executor_id: "e1", step_id: "s1", task: {} },
      { type: "tool_call", call_id: "c1", tool: "calculate", arguments: {}, agent_id: "e1" },
      { type: "text", delta: "Half an ans" },
      { type: "done", status: "cancelled", message_id: "m9", usage: {} },
    ),
  );
  assert.equal(state.status, "cancelled");
  assert.equal(state.messageStatus, "incomplete");
  assert.equal(state.answer, "Half an ans");
  assert.equal(state.plan.steps[0].status, "cancelled");
  assert.equal(state.executors[0].status, "cancelled");
  assert.equal(state.toolCalls[0].status, "failed");
});

test("a fatal error is the run's error; a non-fatal one is a note", () => {
  const state = reduceEvents(
    numbered(
      { type: "error", code: "tool_slow", message: "A tool was slow.", fatal: false },
      { type: "error", code: "llm_error", message: "The model failed.", fatal: true },
      { type: "done", status: "failed" },
    ),
  );
  assert.deepEqual(state.error, { code: "llm_error", message: "The model failed." });
  assert.deepEqual(state.notes, [{ kind: "warning", text: "A tool was slow." }]);
  assert.equal(state.messageStatus, "complete", "no answer text, nothing incomplete");
});

test("plan_revised keeps completed steps and their results, adds new ones", () => {
  const before = reduceEvents(numbered({ type: "plan_created", plan: PLAN }, { type: "step_complete", step: { id: "s1", status: "completed", result: "done 1" } }));
  const revised = reduceRun(before, {
    seq: 3,
    type: "plan_revised",
    reason: "s2 failed",
    plan: { id: "p1", objective: "Compare", steps: [{ id: "s1", title: "Tea", depends_on: [] }, { id: "s4", title: "Retry coffee", depends_on: ["s1"] }] },
  });
  assert.deepEqual(revised.plan.steps.map((s) => [s.id, s.status, s.result]), [["s1", "completed", "done 1"], ["s4", "pending", ""]]);
  assert.match(revised.notes.at(-1).text, /revised: s2 failed/);
});

test("a step event for an unknown step or without a plan leaves the state alone (except seq)", () => {
  const state = reduceRun(initialRunState(), { seq: 1, type: "step_start", step: { id: "nope" } });
  assert.equal(state.plan, null);
  assert.equal(state.lastSeq, 1);
});

test("runFromStored: a stopped run without answer, a failed one with its reason, an active one", () => {
  const stopped = runFromStored({ id: RUN, status: "cancelled", route: "complex", total_tokens: 30, llm_calls: 1, error_code: "", error_message: "", duration_ms: 1200 });
  assert.deepEqual([stopped.status, stopped.finished, stopped.answer, stopped.usage.total_tokens, stopped.durationMs, stopped.error], ["cancelled", true, "", 30, 1200, null]);
  const failed = runFromStored(
    { id: RUN, status: "failed", route: "simple", error_code: "llm_error", error_message: "The model is unavailable." },
    { id: "m2", content: "Part", status: "incomplete" },
  );
  assert.deepEqual(failed.error, { code: "llm_error", message: "The model is unavailable." });
  assert.deepEqual([failed.answer, failed.messageStatus, failed.messageId], ["Part", "incomplete", "m2"]);
  const active = runFromStored({ id: RUN, status: "running", route: "" });
  assert.equal(active.finished, false);
  assert.equal(active.usage, null);
});

test("runFromStored reads the plan and executions of the run detail", () => {
  const detail = {
    id: RUN,
    plan: { id: "p1", objective: "Compare", steps: [{ id: "s1", title: "Tea", depends_on: [], status: "completed", result: "calm" }] },
    executions: [{ id: "x1", step_id: "s1", agent_id: "a1", status: "completed", result: "calm", usage: { total_tokens: 9 } }],
  };
  const state = runFromStored({ id: RUN, status: "completed", route: "complex" }, { id: "m", content: "Tea." }, detail);
  assert.deepEqual(state.plan.steps.map((s) => [s.id, s.status, s.result]), [["s1", "completed", "calm"]]);
  assert.deepEqual(state.executors.map((e) => [e.id, e.stepId, e.status]), [["a1", "s1", "completed"]]);
});

test("answerOnly: an imported answer keeps its status", () => {
  const state = answerOnly({ id: "m", content: "Once upon a", status: "incomplete" });
  assert.deepEqual([state.status, state.finished, state.answer, state.messageStatus], [null, true, "Once upon a", "incomplete"]);
});

test("a run's cost and budget warnings are kept; dollars read as people read them", async () => {
  const { formatUsd } = await import("../../static/chat/js/run-state.js");
  assert.equal(formatUsd(0.00123), "$0.0012");
  assert.equal(formatUsd(12.5), "$12.50");
  assert.equal(formatUsd("x"), "$?");
  const state = reduceEvents(
    numbered(
      { type: "session", session: {} },
      { type: "budget_warning", scope: "user_daily", used_usd: 4.1, limit_usd: 5 },
      { type: "done", status: "completed", usage: { total_tokens: 10, llm_calls: 1, cost_usd: 0.0021, cost_known: true } },
    ),
  );
  assert.equal(state.usage.cost_usd, 0.0021);
  assert.deepEqual(state.notes, [{ kind: "warning", text: "82% of today's budget used: $4.10 of $5.00." }]);
  const capped = reduceEvents(numbered({ type: "session", session: {} }, { type: "budget_warning", scope: "run", used_usd: 0.0999, limit_usd: 0.1 }));
  assert.deepEqual(capped.notes, [{ kind: "warning", text: "99% of this run's cost limit used: $0.0999 of $0.1000." }]);
  const stored = runFromStored({ id: RUN, status: "completed", total_tokens: 7, cost_usd: 0.5, cost_known: false });
  assert.equal(stored.usage.cost_usd, 0.5);
  assert.equal(stored.usage.cost_known, false);
});

test("a run's cost is shown only when it is more than nothing", () => {
  // The offline model's runs cost exactly 0 (known): no "$0.0000" under the answer.
  assert.equal(costLabel({ cost_usd: 0, cost_known: true }), "");
  assert.equal(costLabel({ cost_usd: "0.0000000000", cost_known: true }), "");
  assert.equal(costLabel({ cost_usd: 0, cost_known: false }), "");
  assert.equal(costLabel({ cost_usd: null }), "");
  assert.equal(costLabel(null), "");
  assert.equal(costLabel({ cost_usd: 0.007, cost_known: true }), "$0.0070");
  assert.equal(costLabel({ cost_usd: "0.0000300000", cost_known: true }), "<$0.0001");
  assert.equal(costLabel({ cost_usd: 0.5, cost_known: false }), "$0.5000+");
  assert.equal(costLabel({ cost_usd: 2.345 }), "$2.35");
});

test("an error message is split into the sentence and the reference for support", () => {
  const run = "6b0b8d7d-9e9f-4d85-9cd4-70da9205dd37";
  assert.deepEqual(errorParts(`The model service refused the request (bad_request) (reference: run ${run}).`), {
    text: "The model service refused the request.",
    support: `bad_request, run ${run}`,
  });
  assert.deepEqual(errorParts("The server running this answer stopped."), { text: "The server running this answer stopped.", support: "" });
  assert.deepEqual(errorParts("The run used more tokens than allowed (run_token_limit)."), {
    text: "The run used more tokens than allowed.",
    support: "run_token_limit",
  });
  assert.deepEqual(errorParts("Budget (in dollars) reached"), { text: "Budget (in dollars) reached.", support: "" });
  assert.deepEqual(errorParts(""), { text: "", support: "" });
});

test("thinking is kept per agent and never joins the answer", () => {
  const state = reduceEvents(
    numbered(
      { type: "session", session: { id: SESSION } },
      { type: "thinking", delta: "Routing: ", agent_id: "p", agent_kind: "planner" },
      { type: "thinking", delta: "a plan.", agent_id: "p", agent_kind: "planner" },
      { type: "thinking", delta: "I will add first.", agent_id: "e1", agent_kind: "executor" },
      { type: "text", delta: "It is 5.", agent_id: "p" },
    ),
  );
  assert.deepEqual(state.thinking, [
    { agentId: "p", agentKind: "planner", text: "Routing: a plan." },
    { agentId: "e1", agentKind: "executor", text: "I will add first." },
  ]);
  assert.equal(state.answer, "It is 5.");
  const same = reduceRun(state, { type: "thinking", delta: "", agent_id: "p", agent_kind: "planner", run_id: RUN, seq: 6 });
  assert.equal(same.thinking, state.thinking, "an empty delta changes nothing");
});

test("approvals: a waiting run shows what it waits for, then the decision and who made it", () => {
  const approval = { id: "a1", kind: "tool", tool: "remember", arguments: { content: "tea" }, plan: null, agent_id: "g", expires_at: "2030-01-01T00:00:00Z" };
  const waiting = reduceEvents(
    numbered(
      { type: "session", session: { id: SESSION } },
      { type: "analysis", strategy: "tool", reason: "remember" },
      { type: "approval_required", approval },
    ),
  );
  assert.equal(waiting.status, "waiting");
  assert.deepEqual(
    waiting.approvals.map((item) => [item.id, item.tool, item.decision]),
    [["a1", "remember", null]],
  );
  const decided = reduceEvents(
    [
      { run_id: RUN, seq: 4, type: "approval_result", approval: { id: "a1", decision: "approved", arguments: { content: "green tea" }, reason: "", decided_by: "alice" } },
      { run_id: RUN, seq: 5, type: "resumed", attempt: 2, reason: "approval", answer_reset: false },
    ],
    waiting,
  );
  assert.equal(decided.status, "running");
  assert.equal(decided.approvals[0].decision, "approved");
  assert.equal(decided.approvals[0].decidedBy, "alice");
  assert.deepEqual(decided.approvals[0].decidedArguments, { content: "green tea" });
  assert.equal(reduceRun(decided, { run_id: RUN, seq: 4, type: "approval_result", approval: { id: "a1", decision: "rejected" } }), decided, "a replay changes nothing");
});

test("approvals: decided while the owner still holds the run, the run goes on without a resumed event", () => {
  const tool = (id) => ({ id, kind: "tool", tool: "remember", arguments: {}, plan: null, agent_id: "g", expires_at: "2030-01-01T00:00:00Z" });
  const waiting = reduceEvents(
    numbered({ type: "session", session: { id: SESSION } }, { type: "approval_required", approval: tool("a1") }, { type: "approval_required", approval: tool("a2") }),
  );
  assert.equal(waiting.status, "waiting");
  const one = reduceRun(waiting, { run_id: RUN, seq: 4, type: "approval_result", approval: { id: "a1", decision: "approved", decided_by: "alice" } });
  assert.equal(one.status, "waiting", "another approval is still pending");
  const both = reduceRun(one, { run_id: RUN, seq: 5, type: "approval_result", approval: { id: "a2", decision: "rejected", decided_by: "alice" } });
  assert.equal(both.status, "running");
});

test("approvals read back from the API after a reload keep their decision", () => {
  const stored = runFromStored({ id: RUN, status: "completed", route: "tool" }, { id: "m", content: "Saved." });
  const state = withApprovals(stored, [
    { id: "a2", kind: "tool", tool: "forget", arguments: {}, created_at: "2030-01-01T00:00:02Z", decision: "rejected", reason: "no", decided_by: "alice" },
    { id: "a1", kind: "tool", tool: "remember", arguments: {}, created_at: "2030-01-01T00:00:01Z", decision: "approved", decided_by: "alice" },
  ]);
  assert.deepEqual(state.approvals.map((item) => [item.id, item.decision, item.decidedBy, item.reason]), [
    ["a1", "approved", "alice", ""],
    ["a2", "rejected", "alice", "no"],
  ]);
  assert.equal(withApprovals(stored, []), stored);
});
