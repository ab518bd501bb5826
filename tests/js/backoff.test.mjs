// Unit tests of static/chat/js/backoff.js.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Backoff, backoffDelay, RECONNECT } from "../../static/chat/js/backoff.js";

const noJitter = { ...RECONNECT, jitter: 0 };

test("delays double from the base and stop at the cap", () => {
  const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, noJitter));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
});

test("jitter spreads a delay by at most ±20 %", () => {
  assert.equal(backoffDelay(2, RECONNECT, () => 0), 800);
  assert.equal(backoffDelay(2, RECONNECT, () => 0.5), 1000);
  assert.equal(backoffDelay(2, RECONNECT, () => 0.999999), 1200);
  assert.equal(backoffDelay(40, RECONNECT, () => 0.999999), 9600);
});

test("no failure, no wait; nonsense counts do not produce NaN", () => {
  assert.equal(backoffDelay(0), 0);
  assert.equal(backoffDelay(-3), 0);
  assert.equal(backoffDelay(Number.NaN), 0);
  assert.ok(Number.isFinite(backoffDelay(10_000, noJitter)));
});

test("Backoff gives up after its attempts, and a success starts it over", () => {
  const backoff = new Backoff({ ...noJitter, attempts: 3 });
  assert.deepEqual([backoff.fail(), backoff.fail(), backoff.fail()], [500, 1000, 2000]);
  assert.equal(backoff.fail(), null);
  backoff.succeed();
  assert.equal(backoff.fail(), 500);
});
