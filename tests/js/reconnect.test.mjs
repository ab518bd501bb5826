// Unit tests of static/chat/js/reconnect.js: the follow loop, with a made-up server and clock.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Backoff, RECONNECT } from "../../static/chat/js/backoff.js";
import { followRun } from "../../static/chat/js/reconnect.js";

const sse = (...events) => new Response(events.map((e) => `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`).join(""));

/** A run followed by followRun: events applied, joins asked, waits taken. */
function harness(answers) {
  const run = { lastSeq: 0, finished: false, joins: [], waits: [] };
  const options = {
    runId: "r1",
    lastSeq: () => run.lastSeq,
    isFinished: () => run.finished,
    onEvent: (event) => {
      if (event.seq <= run.lastSeq) return;
      run.lastSeq = event.seq;
      if (event.type === "done") run.finished = true;
    },
    join: async (runId, after) => {
      run.joins.push(after);
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer();
    },
    wait: async (ms) => run.waits.push(ms),
    backoff: new Backoff({ ...RECONNECT, jitter: 0 }),
  };
  return { run, options };
}

test("rejoins after the last seq until done; failures back off, events reset the count", async () => {
  const { run, options } = harness([
    () => sse({ seq: 1, type: "session" }, { seq: 2, type: "text" }),
    new TypeError("Failed to fetch"),
    new TypeError("Failed to fetch"),
    () => new Response("", { status: 503 }),
    () => sse({ seq: 2, type: "text" }, { seq: 3, type: "text" }),
    new TypeError("Failed to fetch"),
    () => sse({ seq: 4, type: "done" }),
  ]);
  const result = await followRun(options);
  assert.deepEqual(result, { outcome: "finished" });
  assert.deepEqual(run.joins, [0, 2, 2, 2, 2, 3, 3]);
  // A stream that brought events and dropped is joined again at once; failures wait 500, 1000, 2000
  // (the 503 too); new events start the count over, so the next failure waits 500 again.
  assert.deepEqual(run.waits, [500, 1000, 2000, 500]);
});

test("streams that end at once with nothing new count as failures (no busy loop)", async () => {
  const { run, options } = harness([
    () => sse({ seq: 1, type: "text" }),
    () => sse(),
    () => sse({ seq: 1, type: "text" }),
    () => sse({ seq: 2, type: "done" }),
  ]);
  await followRun(options);
  assert.deepEqual(run.joins, [0, 1, 1, 1]);
  assert.deepEqual(run.waits, [500, 1000]);
});

test("a final refusal (404: the run is gone) stops at once", async () => {
  const { options } = harness([() => new Response("{}", { status: 404 })]);
  const result = await followRun(options);
  assert.equal(result.outcome, "refused");
  assert.equal(result.response.status, 404);
});

test("gives up after the attempts when nothing ever answers", async () => {
  const { run, options } = harness(Array.from({ length: 20 }, () => new TypeError("Failed to fetch")));
  const result = await followRun(options);
  assert.deepEqual(result, { outcome: "gave_up" });
  assert.equal(run.waits.length, RECONNECT.attempts);
  assert.equal(run.joins.length, RECONNECT.attempts + 1);
});

test("an aborted follow stops without joining again", async () => {
  const controller = new AbortController();
  const { run, options } = harness([
    () => {
      controller.abort();
      return sse({ seq: 1, type: "text" });
    },
  ]);
  const result = await followRun({ ...options, signal: controller.signal });
  assert.deepEqual(result, { outcome: "aborted" });
  assert.equal(run.lastSeq, 0, "no event is applied once aborted");
});
