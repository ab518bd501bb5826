/* Follow a run's stream to its `done`, rejoining after drops with backoff.
 *
 * Each join asks for the events after the last seq applied (Last-Event-ID),
 * so nothing is lost and nothing is applied twice. The server, the network
 * and the clock are parameters, so the loop is tested without a browser.
 */
import { Backoff } from "./backoff.js";
import { sleep } from "./dom.js";
import { readEvents } from "./sse.js";
import { joinRun } from "./transport.js";

// Answers that another try cannot change: a bad Last-Event-ID, signed out, forbidden, run gone.
const FINAL_REFUSALS = new Set([400, 401, 403, 404]);

/**
 * Return `{outcome}` once the run is finished (`finished`), the caller gave
 * up on it (`aborted`), the server refused it for good (`refused`, with the
 * response), or `attempts` joins in a row brought nothing (`gave_up`).
 */
export async function followRun({
  runId,
  lastSeq,
  isFinished,
  onEvent,
  signal,
  onConnected = () => {},
  onWaiting = () => {},
  join = joinRun,
  wait = sleep,
  backoff = new Backoff(),
}) {
  while (!isFinished()) {
    if (signal?.aborted) return { outcome: "aborted" };
    let response = null;
    try {
      response = await join(runId, lastSeq(), { signal });
    } catch {
      response = null; // no answer at all: offline, or the server is restarting
    }
    if (signal?.aborted) return { outcome: "aborted" };
    if (response?.ok) {
      onConnected();
      const before = lastSeq();
      try {
        await readEvents(response, (event) => {
          if (!signal?.aborted) onEvent(event);
        });
      } catch {
        /* dropped mid-stream: join again after the last seq applied */
      }
      if (isFinished()) break;
      if (lastSeq() > before) {
        backoff.succeed(); // it was making progress: join again at once
        continue;
      }
    } else if (response && FINAL_REFUSALS.has(response.status)) {
      return { outcome: "refused", response };
    }
    const delay = backoff.fail();
    if (delay === null) return { outcome: "gave_up" };
    onWaiting(delay);
    await wait(delay, signal);
  }
  return { outcome: "finished" };
}
