// The real AG-UI client (@ag-ui/client's HttpAgent) against the platform's POST /api/ag-ui.
// Run by tests/agents/http/test_agui.py with BASE_URL and TOKEN set (the live server and its scripted stub model).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { HttpAgent, runHttpRequest, transformHttpEventStream } from "@ag-ui/client";
import { EventSchemas } from "@ag-ui/core/schemas";

const BASE_URL = process.env.BASE_URL;
const HEADERS = { Authorization: `Token ${process.env.TOKEN}` };

/** A fetch that records each SSE frame's `id:` as the bytes pass to the client (what EventSource keeps). */
function trackingFetch(seen) {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (!response.body) return response;
    const decoder = new TextDecoder();
    let buffer = "";
    const recorder = new TransformStream({
      transform(chunk, controller) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const id = buffer.slice(0, end).split("\n").find((line) => line.startsWith("id: "));
          buffer = buffer.slice(end + 2);
          if (id) seen.ids.push(id.slice(4));
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(recorder), { status: response.status, headers: response.headers });
  };
}

/** An HttpAgent that re-attaches to one of our runs (GET /api/ag-ui/runs/<id>, after Last-Event-ID). */
class RejoiningAgent extends HttpAgent {
  constructor(config, runId, lastEventId) {
    super(config);
    this.runId = runId;
    this.lastEventId = lastEventId;
  }

  connect() {
    const headers = { ...this.headers, Accept: "text/event-stream", "Last-Event-ID": this.lastEventId };
    const url = `${BASE_URL}/api/ag-ui/runs/${this.runId}`;
    return transformHttpEventStream(runHttpRequest(() => this.fetch(url, { method: "GET", headers })));
  }
}

function newAgent(extra = {}) {
  return new HttpAgent({ url: `${BASE_URL}/api/ag-ui`, headers: HEADERS, threadId: randomUUID(), ...extra });
}

/** Run the agent on one user message; return every event, each checked against AG-UI's own schema. */
async function run(agent, content, parameters = {}) {
  agent.addMessage({ id: randomUUID(), role: "user", content });
  const events = [];
  await agent.runAgent(parameters, {
    onEvent({ event }) {
      events.push(EventSchemas.parse(event));
    },
  });
  return events;
}

const types = (events) => events.map((event) => event.type);
const ofType = (events, type) => events.filter((event) => event.type === type);

function assertFinishedWithUsage(events, runId) {
  assert.equal(events[0].type, "RUN_STARTED");
  assert.equal(events[0].protocolVersion, "1.0");
  const last = events.at(-1);
  assert.equal(last.type, "RUN_FINISHED");
  assert.equal(last.outcome.type, "success");
  assert.equal(last.runId, runId);
  assert.ok(last.usage[0].inputTokens > 0 && last.usage[0].outputTokens > 0, JSON.stringify(last.usage));
  assert.equal(last.usage[0].totalTokens, last.usage[0].inputTokens + last.usage[0].outputTokens);
}

function assistantText(agent) {
  return agent.messages.filter((m) => m.role === "assistant" && m.content).map((m) => m.content).join("");
}

test("a simple run streams one text message and finishes with usage", async () => {
  const agent = newAgent();
  const runId = randomUUID();
  const events = await run(agent, "simple: say hello", { runId });
  assertFinishedWithUsage(events, runId); // the client's fresh run id is the run's id
  assert.equal(events[0].threadId, agent.threadId);
  const starts = ofType(events, "TEXT_MESSAGE_START");
  assert.equal(starts.length, 1);
  const text = ofType(events, "TEXT_MESSAGE_CONTENT").map((e) => e.delta).join("");
  assert.equal(text, process.env.SIMPLE_ANSWER);
  assert.equal(assistantText(agent), process.env.SIMPLE_ANSWER);
  assert.ok(ofType(events, "CUSTOM").some((e) => e.name === "analysis" && e.value.strategy === "simple"));

  // The same thread goes on in the same session.
  const again = await run(agent, "simple: and again");
  assert.equal(again[0].rawEvent.session_id, events[0].rawEvent.session_id);
  assert.equal(agent.messages.filter((m) => m.role === "user").length, 2);
});

test("a tool run streams the call, its arguments and its result", async () => {
  const agent = newAgent();
  const events = await run(agent, "tool: what is 2+3?");
  assertFinishedWithUsage(events, events[0].runId);
  const [start] = ofType(events, "TOOL_CALL_START");
  assert.equal(start.toolCallName, "calculate");
  const args = ofType(events, "TOOL_CALL_ARGS").filter((e) => e.toolCallId === start.toolCallId);
  assert.deepEqual(JSON.parse(args.map((e) => e.delta).join("")), { expression: "2+3" });
  assert.equal(ofType(events, "TOOL_CALL_END").length, 1);
  const [result] = ofType(events, "TOOL_CALL_RESULT");
  assert.equal(result.toolCallId, start.toolCallId);
  assert.match(result.content, /5/);
  // The client's own message list holds the call and its result.
  const withCall = agent.messages.find((m) => m.role === "assistant" && m.toolCalls?.length);
  assert.equal(withCall.toolCalls[0].function.name, "calculate");
  assert.ok(agent.messages.some((m) => m.role === "tool" && m.toolCallId === start.toolCallId));
  assert.equal(assistantText(agent), process.env.TOOL_ANSWER);
});

test("a complex run has its steps and sub-agents, their reasoning and tool calls", async () => {
  const agent = newAgent();
  const events = await run(agent, "complex: do two sums");
  assertFinishedWithUsage(events, events[0].runId);
  const stepStarts = ofType(events, "STEP_STARTED").map((e) => e.stepName);
  assert.deepEqual(stepStarts, ["First sum", "Second sum"]);
  assert.deepEqual(ofType(events, "STEP_FINISHED").map((e) => e.stepName), stepStarts);
  const subagents = ofType(events, "SUBAGENT_STARTED");
  assert.equal(subagents.length, 2);
  const finished = ofType(events, "SUBAGENT_FINISHED");
  assert.deepEqual(finished.map((e) => e.subagentRunId), subagents.map((e) => e.subagentRunId));
  assert.ok(finished.every((e) => e.outcome.type === "success" && /Step result/.test(e.result)));
  // Each executor's reasoning and tool call is attributed to it.
  for (const { subagentRunId } of subagents) {
    const reasoning = ofType(events, "REASONING_MESSAGE_CONTENT").filter((e) => e.subagentRunId === subagentRunId);
    assert.equal(reasoning.map((e) => e.delta).join(""), "Let me use the calculator.");
    const calls = ofType(events, "TOOL_CALL_START").filter((e) => e.subagentRunId === subagentRunId);
    assert.equal(calls.length, 1);
  }
  // A step is open around its executor.
  const order = types(events);
  assert.ok(order.indexOf("STEP_STARTED") < order.indexOf("SUBAGENT_STARTED"));
  assert.ok(order.lastIndexOf("SUBAGENT_FINISHED") < order.lastIndexOf("STEP_FINISHED"));
  const plan = ofType(events, "CUSTOM").find((e) => e.name === "plan_created");
  assert.equal(plan.value.plan.steps.length, 2);
  assert.equal(assistantText(agent), process.env.COMPLEX_ANSWER);
});

test("a client that lost its connection re-attaches after its Last-Event-ID and misses nothing", async () => {
  const seen = { ids: [] };
  const first = newAgent({ fetch: trackingFetch(seen) });
  first.addMessage({ id: randomUUID(), role: "user", content: "slow: take your time" });
  const before = [];
  let runId;
  await first
    .runAgent(
      {},
      {
        onEvent({ event }) {
          before.push(EventSchemas.parse(event));
          if (event.type === "RUN_STARTED") runId = event.runId;
          if (ofType(before, "TEXT_MESSAGE_CONTENT").length === 5) first.abortRun();
        },
      },
    )
    .catch(() => {}); // an aborted run may reject: the connection is gone either way
  assert.ok(runId);
  const partial = ofType(before, "TEXT_MESSAGE_CONTENT").map((e) => e.delta).join("");
  assert.ok(partial.length > 0 && partial.length < process.env.SLOW_ANSWER.length, partial);
  // The id of the last frame the client applied (the client itself adds a RUN_ERROR when it aborts).
  const lastId = seen.ids[before.findLastIndex((event) => event.type === "TEXT_MESSAGE_CONTENT")];
  assert.match(lastId, /^\d+(\.\d+)?$/);

  const rejoined = new RejoiningAgent(
    { url: `${BASE_URL}/api/ag-ui`, headers: HEADERS, threadId: first.threadId, initialMessages: first.messages },
    runId,
    lastId,
  );
  const after = [];
  await rejoined.connectAgent({}, { onEvent: ({ event }) => void after.push(EventSchemas.parse(event)) });
  assert.equal(after[0].type, "RUN_STARTED");
  assert.equal(after[1].type, "TEXT_MESSAGE_START"); // the open message, reopened
  assert.equal(after[1].messageId, ofType(before, "TEXT_MESSAGE_START")[0].messageId);
  const rest = ofType(after, "TEXT_MESSAGE_CONTENT").map((e) => e.delta).join("");
  assert.equal(partial + rest, process.env.SLOW_ANSWER);
  assert.equal(after.at(-1).type, "RUN_FINISHED");
  assert.equal(assistantText(rejoined), process.env.SLOW_ANSWER);
});

test("a write tool's approval interrupts the run; resume[] approves it and the run goes on", async () => {
  const agent = newAgent();
  const first = await run(agent, "write: remember that the sky is blue");
  const interrupted = first.at(-1);
  assert.equal(interrupted.type, "RUN_FINISHED");
  assert.equal(interrupted.outcome.type, "interrupt");
  const [interrupt] = interrupted.outcome.interrupts;
  assert.equal(interrupt.reason, "tool_approval");
  assert.equal(interrupt.metadata.approval.tool, "remember");
  assert.deepEqual(interrupt.metadata.approval.arguments, { content: "The sky is blue." });
  assert.deepEqual(agent.pendingInterrupts.map((pending) => pending.id), [interrupt.id]);

  const events = [];
  await agent.runAgent(
    { resume: [{ interruptId: interrupt.id, status: "resolved", payload: { decision: "approve" } }] },
    { onEvent: ({ event }) => void events.push(EventSchemas.parse(event)) },
  );
  assertFinishedWithUsage(events, first[0].runId); // the same run, going on
  const decided = ofType(events, "CUSTOM").find((e) => e.name === "approval_result");
  assert.equal(decided.value.approval.decision, "approved");
  const [call] = ofType(events, "TOOL_CALL_START");
  assert.equal(call.toolCallName, "remember");
  const [result] = ofType(events, "TOOL_CALL_RESULT");
  assert.equal(result.toolCallId, call.toolCallId);
  assert.equal(ofType(events, "TEXT_MESSAGE_CONTENT").map((e) => e.delta).join(""), process.env.WRITE_ANSWER);
  assert.deepEqual(agent.pendingInterrupts, []);
});
