// The chat's event module is generated from the server's event catalogue (agents/events/catalogue.py);
// a Python test keeps the file current. These tests keep the UI's reducer in step with it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { ACTIVE_STATUSES, EVENT, FIELDS, RUN_STATUSES } from "../../static/chat/js/events.js";

const BASE = new Set(["type", "run_id", "session_id", "seq", "ts"]);

test("every event name has its fields, and the active statuses are run statuses", () => {
  for (const name of Object.values(EVENT)) assert.ok(Array.isArray(FIELDS[name]), name);
  assert.deepEqual(Object.keys(FIELDS).sort(), Object.values(EVENT).sort());
  for (const status of ACTIVE_STATUSES) assert.ok(RUN_STATUSES.includes(status), status);
});

test("every field the run-state reducer reads from an event is one the server sends", () => {
  const source = readFileSync(new URL("../../static/chat/js/run-state.js", import.meta.url), "utf8");
  const known = new Set([...BASE, ...Object.values(FIELDS).flat()]);
  const read = new Set([...source.matchAll(/\bevent\.([a-z_]+)/g)].map((match) => match[1]));
  assert.ok(read.size > 10, "the reducer reads event fields as event.<field>");
  const unknown = [...read].filter((field) => !known.has(field));
  assert.deepEqual(unknown, [], `run-state.js reads fields no event carries: ${unknown.join(", ")}`);
});

test("a retry's wait is read from delay_ms, the field the server sends", () => {
  assert.ok(FIELDS.retry.includes("delay_ms"));
  assert.ok(!FIELDS.retry.includes("delay_s"));
});
