/* Talking to the server: JSON API calls, the two event-stream requests, and errors in plain words.
 *
 * Endpoints (docs/api.md): /api/sessions/… (history), POST /api/agent/stream
 * (start a run and read its events with fetch, because EventSource cannot
 * POST), GET /api/agent/runs/<id>/stream (join after Last-Event-ID),
 * POST /api/agent/runs/<id>/cancel (stop).
 */
import { uuid4 } from "./dom.js";

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(response, data) {
    const error = data?.error || {};
    super(error.message || `The server answered ${response.status}.`);
    this.status = response.status;
    this.code = error.code || "";
    this.fields = error.fields || {};
    this.runId = error.run_id || null;
    this.retryAfter = Number(response.headers.get("Retry-After") || error.retry_after || 0);
  }
}

/** An error for a request that never got an answer (offline, DNS, connection refused). */
export function offlineError() {
  return Object.assign(new Error("offline"), { status: 0, code: "", fields: {}, runId: null, retryAfter: 0 });
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw offlineError();
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response, data);
  return data;
}

/** GET every page of a paginated list (up to `limit` pages). */
export async function fetchAll(path, limit = 10) {
  const items = [];
  let next = path;
  for (let page = 0; next && page < limit; page++) {
    const url = new URL(next, location.href);
    const data = await api(url.pathname + url.search);
    items.push(...data.results);
    next = data.next;
  }
  return items;
}

/** POST a message and return the event-stream response (or throw an ApiError before the stream). */
export async function startRun(body, { signal } = {}) {
  let response;
  try {
    response = await fetch("/api/agent/stream", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "text/event-stream",
        "X-CSRFToken": csrfToken(),
        "Idempotency-Key": uuid4(),
      },
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw offlineError();
  }
  if (!response.ok) throw new ApiError(response, await response.json().catch(() => null));
  return response;
}

/** Join a run's stream after the events already seen; return the response (ok or not). */
export function joinRun(runId, lastSeq, { signal } = {}) {
  return fetch(`/api/agent/runs/${runId}/stream?last_event_id=${lastSeq}`, {
    headers: { Accept: "text/event-stream", "Last-Event-ID": String(lastSeq) },
    credentials: "same-origin",
    signal,
  });
}

export const loginUrl = () => `/accounts/login/?next=${encodeURIComponent(location.pathname + location.search)}`;

/** Say in plain words what a refused request means; return [text, actions] (actions: [label, handler]). */
export function explain(error, { rejoin, newChat } = {}) {
  if (error.status === 429) {
    const what = {
      token_budget_exceeded: "You've used this minute's token budget.",
      too_many_streams: "Too many answers are open in your tabs.",
    }[error.code] || "You're sending messages faster than allowed.";
    return [`${what} Try again in ${error.retryAfter || "a few"} seconds.`, []];
  }
  if (error.status === 409) {
    return [
      "This chat is still answering your previous message. Wait for it, or follow it live.",
      error.runId && rejoin ? [["Show the running answer", () => rejoin(error.runId)]] : [],
    ];
  }
  if (error.status === 401 || error.status === 403) {
    return ["Your sign-in has expired. Sign in again; your text is kept.", [["Sign in", () => location.assign(loginUrl())]]];
  }
  if (error.status === 404) {
    return [
      "This chat no longer exists. Your message is back in the box; send it to start a new chat.",
      newChat ? [["New chat", () => newChat()]] : [],
    ];
  }
  if (error.status === 400) {
    const fieldProblems = Object.values(error.fields || {}).flat();
    return [fieldProblems.length ? `Can't send that: ${fieldProblems.join(" ")}` : error.message, []];
  }
  if (error.status === 0) return ["Can't reach the server. Check your connection and try again.", []];
  if (error.status === 503) return ["The service is restarting or busy. Try again in a moment; your text is kept.", []];
  return [`Something went wrong (${error.status}). ${error.message}`, []];
}
