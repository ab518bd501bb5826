/* Reconnect delays: bounded exponential backoff with jitter, and a give-up count.
 *
 * Pure: the random source is a parameter, so the tests can pin it.
 */

export const RECONNECT = Object.freeze({ baseMs: 500, maxMs: 8000, attempts: 8, jitter: 0.2 });

/**
 * Return the wait before reconnect number `failures` (1 for the first):
 * base × 2^(failures-1), capped at maxMs, then spread by ±jitter so many
 * tabs dropped at once do not come back in step.
 */
export function backoffDelay(failures, { baseMs, maxMs, jitter } = RECONNECT, random = Math.random) {
  if (!Number.isFinite(failures) || failures < 1) return 0;
  const raw = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(raw * (1 - jitter + 2 * jitter * random()));
}

/** Count failures of one connection; a success (events received) starts over. */
export class Backoff {
  constructor(options = RECONNECT, random = Math.random) {
    this.options = options;
    this.random = random;
    this.failures = 0;
  }

  /** Record a failure; return the wait before the next try, or null when it is time to give up. */
  fail() {
    this.failures += 1;
    if (this.failures > this.options.attempts) return null;
    return backoffDelay(this.failures, this.options, this.random);
  }

  succeed() {
    this.failures = 0;
  }
}
