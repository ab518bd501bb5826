// Unit tests of static/chat/js/sse.js (node --test; no dependencies).
import assert from "node:assert/strict";
import { test } from "node:test";

import { parseEvent, readEvents, SseDecoder } from "../../static/chat/js/sse.js";

const frame = (seq, event) => `id: ${seq}\ndata: ${JSON.stringify({ seq, ...event })}\n\n`;

test("decodes whole frames with their id and data", () => {
  const decoder = new SseDecoder();
  const frames = decoder.feed(frame(1, { type: "session" }) + frame(2, { type: "text", delta: "hi" }));
  assert.deepEqual(
    frames.map((f) => [f.id, parseEvent(f).type]),
    [
      ["1", "session"],
      ["2", "text"],
    ],
  );
});

test("a frame split at every character comes out once, whole", () => {
  const body = frame(7, { type: "text", delta: "split \u00e9\u4e2d" });
  const decoder = new SseDecoder();
  const frames = [];
  for (const char of body) frames.push(...decoder.feed(char));
  assert.equal(frames.length, 1);
  assert.deepEqual(parseEvent(frames[0]), { seq: 7, type: "text", delta: "split \u00e9\u4e2d" });
});

test("CRLF and lone CR end lines, also when a CRLF is split between pieces", () => {
  const decoder = new SseDecoder();
  const frames = [
    ...decoder.feed('id: 1\r\ndata: {"type":"a"}\r'),
    ...decoder.feed("\n\r"),
    ...decoder.feed('\nid: 2\rdata: {"type":"b"}\r\r'),
  ];
  assert.deepEqual(
    frames.map((f) => [f.id, parseEvent(f).type]),
    [
      ["1", "a"],
      ["2", "b"],
    ],
  );
});

test("comments (keep-alives) and frames without data are not events", () => {
  const decoder = new SseDecoder();
  assert.deepEqual(decoder.feed(": keep-alive\n\n"), []);
  assert.deepEqual(decoder.feed("id: 3\n\n"), []);
  assert.deepEqual(decoder.feed("retry: 100\n\n"), []);
});

test("several data lines join with a newline; one leading space is dropped", () => {
  const [only] = new SseDecoder().feed("data:  a\ndata:b\n\n");
  assert.equal(only.data, " a\nb");
});

test("a last frame without its empty line is not dispatched", () => {
  const decoder = new SseDecoder();
  assert.deepEqual(decoder.feed('data: {"type":"x"}\n'), []);
  assert.deepEqual(decoder.end(), []);
});

test("data that is not a JSON event is skipped, not thrown", () => {
  assert.equal(parseEvent({ data: "not json" }), null);
  assert.equal(parseEvent({ data: "[1, 2]" }), null);
  assert.equal(parseEvent({ data: '{"no": "type"}' }), null);
});

test("model text cannot forge a frame: a newline inside JSON data stays in the string", () => {
  const evil = { type: "text", delta: "\n\nid: 99\ndata: {\"type\":\"done\"}\n\n" };
  const frames = new SseDecoder().feed(`id: 5\ndata: ${JSON.stringify(evil)}\n\n`);
  assert.equal(frames.length, 1);
  assert.equal(frames[0].id, "5");
  assert.deepEqual(parseEvent(frames[0]), evil);
});

test("readEvents reads a streamed body in byte pieces that split a UTF-8 character", async () => {
  const bytes = new TextEncoder().encode(frame(1, { type: "text", delta: "caf\u00e9 \u{1F600}" }) + ": keep-alive\n\n" + frame(2, { type: "done" }));
  const body = new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
      controller.close();
    },
  });
  const seen = [];
  await readEvents(new Response(body), (event) => seen.push(event));
  assert.deepEqual(seen, [
    { seq: 1, type: "text", delta: "caf\u00e9 \u{1F600}" },
    { seq: 2, type: "done" },
  ]);
});
