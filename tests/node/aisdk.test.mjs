// The real Vercel AI SDK client (`ai`: DefaultChatTransport, readUIMessageStream) against POST /api/ai-sdk/chat.
// Run by tests/agents/http/test_aisdk.py with BASE_URL and TOKEN set (the live server and its scripted stub model).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { DefaultChatTransport, readUIMessageStream } from "ai";

const BASE_URL = process.env.BASE_URL;

function transport() {
  return new DefaultChatTransport({
    api: `${BASE_URL}/api/ai-sdk/chat`,
    headers: { Authorization: `Token ${process.env.TOKEN}` },
  });
}

function userMessage(text) {
  return { id: randomUUID(), role: "user", parts: [{ type: "text", text }] };
}

/** Tee a chunk stream: the chunks as they came (validated by the transport) and a stream for readUIMessageStream. */
function recorded(stream) {
  const chunks = [];
  const copy = stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        chunks.push(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  return { chunks, stream: copy };
}

async function lastMessage(stream, message = undefined) {
  let last;
  for await (const snapshot of readUIMessageStream({ message, stream, terminateOnError: true })) last = snapshot;
  return last;
}

const partsOf = (message, type) => message.parts.filter((part) => part.type === type);
const text = (message) => partsOf(message, "text").map((part) => part.text).join("");

test("a complex run reads into one UIMessage with text, tool, reasoning and data parts", async () => {
  const chatId = `chat-${randomUUID()}`;
  const { chunks, stream } = recorded(
    await transport().sendMessages({
      chatId,
      messages: [userMessage("complex: do two sums")],
      trigger: "submit-message",
      messageId: undefined,
      abortSignal: undefined,
    }),
  );
  const message = await lastMessage(stream);
  assert.equal(message.role, "assistant");
  assert.equal(chunks[0].type, "start");
  assert.equal(chunks.at(-1).type, "finish");
  assert.equal(chunks.at(-1).finishReason, "stop");
  assert.equal(message.id, message.metadata.runId); // the assistant message is the run
  assert.ok(message.metadata.usage.total_tokens > 0);
  assert.equal(text(message), process.env.COMPLEX_ANSWER);

  const tools = partsOf(message, "dynamic-tool");
  assert.equal(tools.length, 2);
  for (const tool of tools) {
    assert.equal(tool.toolName, "calculate");
    assert.equal(tool.state, "output-available");
    assert.ok([5, 9].includes(Number(tool.output.result)), JSON.stringify(tool));
  }
  assert.equal(partsOf(message, "reasoning").map((part) => part.text).join(""), "Let me use the calculator.".repeat(2));

  assert.equal(partsOf(message, "data-route")[0].data.strategy, "complex");
  assert.deepEqual(
    partsOf(message, "data-plan")[0].data.steps.map((step) => step.title),
    ["First sum", "Second sum"],
  );
  const executors = partsOf(message, "data-executor");
  assert.equal(executors.length, 2);
  assert.ok(executors.every((part) => part.data.status === "completed" && /Step result/.test(part.data.result)));
  assert.ok(executors.every((part) => part.data.task.title)); // the spawned part, completed in place
  assert.deepEqual(partsOf(message, "data-step").map((part) => part.data.status), ["completed", "completed"]);
  assert.equal(partsOf(message, "step-start").length, 2); // one per step (they ran one after the other)
});

test("a tool run and a second message on the same chat id continue one session", async () => {
  const chatId = `chat-${randomUUID()}`;
  const first = await lastMessage(
    await transport().sendMessages({
      chatId,
      messages: [userMessage("tool: what is 2+3?")],
      trigger: "submit-message",
    }),
  );
  const [tool] = partsOf(first, "dynamic-tool");
  assert.equal(tool.state, "output-available");
  assert.deepEqual(tool.input, { expression: "2+3" });
  assert.equal(text(first), process.env.TOOL_ANSWER);
  const second = await lastMessage(
    await transport().sendMessages({
      chatId,
      messages: [userMessage("tool: what is 2+3?"), first, userMessage("simple: thanks")],
      trigger: "submit-message",
    }),
  );
  assert.equal(text(second), process.env.SIMPLE_ANSWER);
  assert.equal(second.metadata.sessionId, first.metadata.sessionId);
  assert.notEqual(second.metadata.runId, first.metadata.runId);
});

test("useChat's resume replays the chat's active run; 204 once it has none", async () => {
  const chatId = `chat-${randomUUID()}`;
  const abort = new AbortController();
  const stream = await transport().sendMessages({
    chatId,
    messages: [userMessage("slow: take your time")],
    trigger: "submit-message",
    abortSignal: abort.signal,
  });
  // Read a few pieces of the answer, then lose the connection (a page reload).
  const reader = stream.getReader();
  let deltas = 0;
  while (deltas < 3) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the run ended before the client left");
    if (value.type === "text-delta") deltas += 1;
  }
  abort.abort();
  await reader.cancel().catch(() => {});

  const resumed = await transport().reconnectToStream({ chatId });
  assert.ok(resumed, "the chat has an active run to resume");
  const message = await lastMessage(resumed);
  assert.equal(text(message), process.env.SLOW_ANSWER);
  assert.equal(await transport().reconnectToStream({ chatId }), null);
  assert.equal(await transport().reconnectToStream({ chatId: `never-used-${randomUUID()}` }), null);
});

test("a write tool asks for approval; the approval response runs it and the answer goes on", async () => {
  const chatId = `chat-${randomUUID()}`;
  const question = userMessage("write: remember that the sky is blue");
  const { chunks, stream } = recorded(
    await transport().sendMessages({ chatId, messages: [question], trigger: "submit-message" }),
  );
  const asked = await lastMessage(stream);
  assert.deepEqual(chunks.slice(-2).map((chunk) => chunk.type), ["tool-approval-request", "finish"]);
  assert.equal(chunks.at(-1).finishReason, "tool-calls");
  const [pending] = partsOf(asked, "dynamic-tool");
  assert.equal(pending.toolName, "remember");
  assert.equal(pending.state, "approval-requested");
  assert.deepEqual(pending.input, { content: "The sky is blue." });

  // What useChat's addToolApprovalResponse does to the message before it is sent again.
  const answered = structuredClone(asked);
  const part = answered.parts.find((p) => p.type === "dynamic-tool");
  part.state = "approval-responded";
  part.approval = { ...part.approval, approved: true };
  const final = await lastMessage(
    await transport().sendMessages({ chatId, messages: [question, answered], trigger: "submit-message" }),
    answered,
  );
  assert.equal(final.id, asked.id); // the same assistant message (the run) goes on
  assert.equal(text(final), process.env.WRITE_ANSWER);
  const ran = partsOf(final, "dynamic-tool").find((p) => p.state === "output-available");
  assert.equal(ran.toolName, "remember");
  assert.ok(partsOf(final, "data-approval_result").some((p) => p.data.approval.decision === "approved"));
});
