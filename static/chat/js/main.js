/* The chat page: wires the sidebar, the composer, the conversation and the live run together.
 *
 * Modules (no build step, plain ES modules): transport (HTTP), sse (event
 * decoder), backoff and reconnect (rejoining a run), run-state (reducer),
 * run-view (drawing a turn), messages (a person's message, Edit), markdown, scroll (following the view),
 * sidebar, dialogs, composer. Everything a model or a person wrote reaches
 * the page as text nodes, or as markdown sanitized by DOMPurify.
 */
import { Composer, messageLength } from "./composer.js";
import { ChatDialogs } from "./dialogs.js";
import { userMessage } from "./messages.js";
import { drawIcons, el, formatNumber, load, store } from "./dom.js";
import { ACTIVE_STATUSES, EVENT } from "./events.js";
import { followRun } from "./reconnect.js";
import { answerOnly, formatUsd, initialRunState, reduceEvents, reduceRun, runFromStored, withApprovals } from "./run-state.js";
import { RunView } from "./run-view.js";
import { Follower } from "./scroll.js";
import { Sidebar } from "./sidebar.js";
import { readEvents } from "./sse.js";
import { ApiError, api, explain as explainError, fetchAll, joinRun, startRun } from "./transport.js";

const config = JSON.parse(document.getElementById("chat-config").textContent);
const $ = (id) => document.getElementById(id);
const ui = {
  app: $("app"),
  sidebar: $("sidebar"),
  main: $("main"),
  backdrop: $("backdrop"),
  openSidebar: $("open-sidebar"),
  closeSidebar: $("close-sidebar"),
  newChat: $("new-chat"),
  search: $("session-search"),
  sessionList: $("session-list"),
  sessionsEmpty: $("sessions-empty"),
  moreSessions: $("more-sessions"),
  title: $("chat-title"),
  status: $("run-status"),
  conversation: $("conversation"),
  jump: $("jump-latest"),
  welcome: $("welcome"),
  suggestions: $("suggestions"),
  messages: $("messages"),
  notice: $("notice"),
  noticeText: $("notice-text"),
  noticeActions: $("notice-actions"),
  noticeClose: $("notice-close"),
  composer: $("composer"),
  input: $("message"),
  counter: $("char-count"),
  send: $("send"),
  stop: $("stop"),
  renameDialog: $("rename-dialog"),
  renameForm: $("rename-form"),
  renameInput: $("rename-input"),
  renameError: $("rename-error"),
  renameCancel: $("rename-cancel"),
  deleteDialog: $("delete-dialog"),
  deleteForm: $("delete-form"),
  deleteText: $("delete-text"),
};

const ACTIVE_KEY = "chat.activeRun";
const DETAIL_CONCURRENCY = 4;
const PHONE = matchMedia("(max-width: 760px)");

const page = {
  sessionId: null, // the chat on screen; null for a new chat
  live: null, // the run streaming into the page: {view, state, abort, text}
  turns: [], // [{text, view}] in order, for Regenerate
  openToken: 0, // every open (and new chat) takes a new token; a stale open renders nothing
  retryTimer: 0,
};

// --- notices and status ---------------------------------------------------------------

function setStatus(text) {
  ui.status.textContent = text || "";
}

function showNotice(text, actions = [], { kind = "error" } = {}) {
  ui.notice.hidden = false;
  ui.notice.dataset.kind = kind;
  ui.noticeText.textContent = text;
  ui.noticeActions.replaceChildren(
    ...actions.map(([label, handler]) => el("button", { type: "button", class: "btn btn-small", onclick: () => handler() }, label)),
  );
}

function hideNotice() {
  ui.notice.hidden = true;
  ui.noticeText.textContent = "";
  ui.noticeActions.replaceChildren();
  clearInterval(page.retryTimer);
}

const explain = (error) => explainError(error, { rejoin: (runId) => showRunningAnswer(runId), newChat: () => newChat() });

function countDownRetry(seconds, message) {
  clearInterval(page.retryTimer);
  let left = seconds;
  const base = message.replace(/Try again in .*$/, "");
  page.retryTimer = setInterval(() => {
    left -= 1;
    if (ui.notice.hidden) return clearInterval(page.retryTimer);
    if (left <= 0) {
      clearInterval(page.retryTimer);
      ui.noticeText.textContent = `${base}You can send again now.`;
    } else ui.noticeText.textContent = `${base}Try again in ${left} second${left === 1 ? "" : "s"}.`;
  }, 1000);
}

// --- turns ----------------------------------------------------------------------------------

/** Append a turn (the person's message, then the answer's view) to the conversation. */
function appendTurn(text, { view = null, pending = false } = {}) {
  const turn = { text, view, node: el("div", { class: "turn" }) };
  if (text !== null) {
    // The same question right after itself is Regenerate (or asked again): no second full bubble.
    const repeat = page.turns.at(-1)?.text === text;
    turn.user = userMessage(text, { pending, repeat, onSend: (changed) => send(changed, { origin: "edit" }) });
    turn.node.append(turn.user);
  }
  if (view) turn.node.append(view.node);
  ui.messages.append(turn.node);
  ui.welcome.hidden = true;
  page.turns.push(turn);
  return turn;
}

function removeTurn(turn) {
  turn.node.remove();
  page.turns = page.turns.filter((t) => t !== turn);
  if (!ui.messages.children.length) ui.welcome.hidden = false;
}

/** Only the last turn offers Regenerate, and only while no run is live. */
function updateRegenerate() {
  const last = page.turns.at(-1);
  for (const turn of page.turns) {
    if (!turn.view) continue;
    const offer = turn === last && !page.live && turn.text !== null && turn.view.state?.finished;
    turn.view.setRegenerate(offer ? () => send(turn.text, { origin: "regenerate" }) : undefined);
  }
}

function newView() {
  return new RunView({ actions: { replay: replayRun } });
}

/** Load a stored run's events and draw them under its answer (tool calls are only in the events). */
async function replayRun(view, button) {
  button.disabled = true;
  try {
    const response = await joinRun(view.state.runId, 0);
    if (!response.ok) throw new Error(String(response.status));
    const events = [];
    await readEvents(response, (event) => events.push(event));
    const replayed = reduceEvents(events, initialRunState({ runId: view.state.runId }));
    view.render({ ...replayed, answer: view.state.answer, messageStatus: view.state.messageStatus, usage: view.state.usage || replayed.usage });
    view.replayed = true; // loaded once: a run that had no calls does not offer them again
    view.drawFooter(view.state);
  } catch {
    button.disabled = false;
  }
}

// --- the live run ---------------------------------------------------------------------------

function rememberActive(live) {
  const state = live.state;
  if (state.runId && !state.finished) store(ACTIVE_KEY, { runId: state.runId, sessionId: state.sessionId, lastSeq: state.lastSeq });
  else if (load(ACTIVE_KEY)?.runId === state.runId) store(ACTIVE_KEY, null);
}

/** Make a turn's view the live run: Stop offered, the view followed. */
function beginLive(view, state) {
  if (page.live) detachLive();
  const live = { view, state, abort: new AbortController(), text: null };
  page.live = live;
  view.render(state);
  composer.setRunning(true, { canStop: Boolean(state.runId) });
  ui.app.classList.add("is-running");
  setStatus(liveStatus(state));
  follower.follow();
  updateRegenerate();
  return live;
}

/** The header's word for a live run: paused on an approval, or answering. */
function liveStatus(state) {
  return state.status === "waiting" ? "Waiting for your decision…" : "Answering…";
}

function applyEvent(live, event) {
  if (page.live !== live) return;
  const before = live.state;
  const state = reduceRun(before, event);
  if (state === before) return;
  live.state = state;
  live.view.render(state);
  rememberActive(live);
  if (event.type === EVENT.SESSION) onRunSession(live, event.session || {});
  if (!state.finished && (state.status === "waiting") !== (before.status === "waiting")) setStatus(liveStatus(state));
  if (state.finished && !before.finished) onRunDone(live, state);
}

function onRunSession(live, session) {
  composer.setRunning(true, { canStop: true });
  const sessionId = live.state.sessionId;
  if (!sessionId) return;
  if (page.sessionId !== sessionId) {
    page.sessionId = sessionId;
    composer.setSession(sessionId);
    setUrlSession(sessionId);
    sidebar.markCurrent(sessionId);
  }
  if (session.title) ui.title.textContent = session.title;
  sidebar.refresh();
}

function onRunDone(live, state) {
  endLive(live);
  setStatus(state.status === "completed" ? "" : state.status === "cancelled" ? "Stopped." : "The run did not finish.");
  if ((state.status === "failed" || state.status === "interrupted") && live.text && !composer.value.trim()) {
    // The message is stored in the chat, but put it back so it can be sent again with one key. Not as
    // a draft: after a reload the turn shows the failure and Regenerate, and the box starts empty.
    composer.set(live.text, { draft: false });
  }
  sidebar.refresh();
  showBudget();
}

/** Show today's spend against the daily budget under the composer, when a budget is set. */
async function showBudget() {
  let budget;
  try {
    ({ budget } = await api("/api/usage/?days=1"));
  } catch {
    return; // the budget line is a courtesy: the chat works without it
  }
  let line = document.getElementById("budget-line");
  if (budget.daily_usd === null || budget.daily_usd === undefined) {
    line?.remove();
    return;
  }
  if (!line) {
    line = el("p", { id: "budget-line", class: "composer-hint muted" });
    document.getElementById("composer-hint").after(line);
  }
  line.textContent = `Today: ${formatUsd(budget.used_today_usd)} of your ${formatUsd(budget.daily_usd)} daily budget`;
}

/** Stop listening to the live run (it goes on server-side) without touching its DOM. */
function detachLive() {
  const live = page.live;
  if (!live) return;
  live.abort.abort();
  endLive(live);
}

function endLive(live) {
  if (page.live !== live) return;
  page.live = null;
  composer.setRunning(false);
  ui.app.classList.remove("is-running");
  setStatus("");
  follower.settle();
  updateRegenerate();
}

/** Follow the live run until `done`, rejoining after drops (reconnect.js). */
async function follow(live) {
  const result = await followRun({
    runId: live.state.runId,
    lastSeq: () => live.state.lastSeq,
    isFinished: () => live.state.finished || page.live !== live,
    onEvent: (event) => applyEvent(live, event),
    signal: live.abort.signal,
    onConnected: () => setStatus(liveStatus(live.state)),
    onWaiting: (delay) => setStatus(`Connection lost — reconnecting in ${Math.ceil(delay / 1000)} s…`),
  });
  if (page.live !== live) return;
  if (result.outcome === "refused") {
    const data = await result.response.json().catch(() => null);
    showNotice(...explain(new ApiError(result.response, data)));
    endLive(live);
  } else if (result.outcome === "gave_up") {
    setStatus("");
    showNotice("Lost the connection to the running answer. It goes on on the server.", [
      [
        "Reconnect",
        () => {
          hideNotice();
          startFollowing(live);
        },
      ],
    ]);
  }
}

function startFollowing(live) {
  follow(live).catch(() => showNotice("Lost the live answer. Reload the page to see it.", [["Reload", () => location.reload()]]));
}

async function stopRun() {
  const live = page.live;
  if (!live?.state.runId) return;
  ui.stop.disabled = true;
  setStatus("Stopping…");
  try {
    await api(`/api/agent/runs/${live.state.runId}/cancel`, { method: "POST", body: {} });
  } catch (error) {
    ui.stop.disabled = false;
    showNotice(`Couldn't stop the run: ${error.message}`);
  }
}

/** After a 409: open the chat again, so the running answer shows with the question it answers. */
async function showRunningAnswer(runId) {
  hideNotice();
  if (page.live?.state.runId === runId) return;
  await openSession(page.sessionId, { force: true, focusComposer: false });
}

// --- sending --------------------------------------------------------------------------------

/**
 * Send a message as a new run. `origin`: `composer` (the box), `suggestion`,
 * `regenerate` (the last message again) or `edit` (a changed message).
 * Return whether the server accepted it.
 */
async function send(raw, { origin = "composer" } = {}) {
  const text = raw.trim();
  if (!text) {
    if (origin === "composer") composer.focus();
    return false;
  }
  if (page.live) {
    showNotice("Wait for the current answer, or press Stop first.", [], { kind: "info" });
    return false;
  }
  const length = messageLength(text);
  if (length > config.maxMessageChars) {
    showNotice(`That message is ${formatNumber(length)} characters; the limit is ${formatNumber(config.maxMessageChars)}.`);
    return false;
  }
  hideNotice();
  const fromBox = origin === "composer";
  const turn = appendTurn(text, { view: newView(), pending: true });
  if (fromBox) {
    composer.set("");
    composer.saveDraft(raw); // kept until the server accepts it
  }
  const live = beginLive(turn.view, initialRunState({ sessionId: page.sessionId }));
  live.text = text;

  const params = new URLSearchParams(location.search);
  const body = { message: text, session_id: page.sessionId };
  if (document.getElementById("review-plan")?.checked) body.review_plan = true; // approval-view.js shows the plan
  if (!page.sessionId) {
    body.context_type = params.get("context_type") || null;
    body.entity_id = params.get("entity_id") || null;
  }
  let response;
  try {
    response = await startRun(body, { signal: live.abort.signal });
  } catch (error) {
    if (page.live !== live) return false; // another chat was opened meanwhile
    removeTurn(turn);
    endLive(live);
    if (fromBox && !composer.value.trim()) composer.set(raw);
    if (error.name === "AbortError") return false;
    const [message, actions] = explain(error);
    showNotice(message, actions);
    if (error.status === 429 && error.retryAfter) countDownRetry(error.retryAfter, message);
    if (fromBox) composer.focus();
    return false;
  }
  turn.user.classList.remove("is-pending");
  if (fromBox) composer.saveDraft();
  stream(live, response, raw);
  return true;
}

/** Read the run's first response to its end, then follow the run if it has not finished. */
async function stream(live, response, raw) {
  try {
    await readEvents(response, (event) => applyEvent(live, event));
  } catch {
    /* the connection dropped mid-stream: follow() picks it up from the last seq */
  }
  if (page.live !== live || live.state.finished) return;
  if (live.state.runId) startFollowing(live);
  else {
    endLive(live);
    showNotice("The connection dropped before the run started. Your message is back in the box.");
    if (!composer.value.trim()) composer.set(raw);
  }
}

// --- sessions -------------------------------------------------------------------------------

function setUrlSession(sessionId) {
  const url = new URL(location.href);
  if (sessionId) url.searchParams.set("s", sessionId);
  else url.searchParams.delete("s");
  history.replaceState(null, "", url);
}

function clearConversation() {
  ui.messages.replaceChildren();
  page.turns = [];
}

/** Draw a chat's history: each message with the run that answered it, in the state it ended. */
function drawHistory(messages, runs) {
  const byId = new Map(messages.map((message) => [message.id, message]));
  const runByQuestion = new Map(runs.map((run) => [run.user_message_id, run]));
  const answered = new Set(runs.map((run) => run.assistant_message_id).filter(Boolean));
  const active = [];
  const complex = [];
  const decided = []; // finished runs that may have approvals to show
  for (const message of messages) {
    if (message.role === "user") {
      const run = runByQuestion.get(message.id);
      if (!run) {
        appendTurn(message.content);
        continue;
      }
      const view = newView();
      const turn = appendTurn(message.content, { view });
      if (ACTIVE_STATUSES.includes(run.status)) active.push([turn, run]);
      else {
        const answer = run.assistant_message_id ? byId.get(run.assistant_message_id) || null : null;
        view.render(runFromStored(run, answer));
        if (run.route === "complex") complex.push([view, run, answer]);
        if (run.route === "complex" || run.route === "tool") decided.push(view);
      }
    } else if (!answered.has(message.id)) {
      const view = newView();
      appendTurn(null, { view });
      view.render(answerOnly(message));
    }
  }
  return { active, complex, decided };
}

/** Read the approvals of stored runs (a few at a time) and draw what was decided, and by whom. */
async function drawApprovals(views, token) {
  const queue = [...views];
  const worker = async () => {
    while (queue.length) {
      const view = queue.shift();
      try {
        const approvals = await api(`/api/agent/runs/${view.state.runId}/approvals`);
        if (token !== page.openToken) return;
        view.render(withApprovals(view.state, approvals));
      } catch {
        /* the answer is there; only its approvals stay unshown */
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DETAIL_CONCURRENCY, queue.length) }, worker));
}

/** Read the plans and executors of stored complex runs (a few at a time) and draw them. */
async function drawPlans(complex, token) {
  const queue = [...complex];
  const worker = async () => {
    while (queue.length) {
      const [view, run, answer] = queue.shift();
      try {
        const detail = await api(`/api/agent/runs/${run.id}`);
        if (token !== page.openToken) return;
        view.render({ ...runFromStored(run, answer, detail), approvals: view.state?.approvals || [] });
      } catch {
        /* the plan stays unshown; the answer and its status are there */
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DETAIL_CONCURRENCY, queue.length) }, worker));
}

async function openSession(sessionId, { focusComposer = true, force = false } = {}) {
  sidebar.closeDrawer();
  if (!force && sessionId === page.sessionId && page.live) return;
  const token = ++page.openToken;
  detachLive();
  hideNotice();
  page.sessionId = sessionId;
  composer.setSession(sessionId);
  setUrlSession(sessionId);
  sidebar.markCurrent(sessionId);
  ui.title.textContent = sidebar.title(sessionId) || "Loading…";
  clearConversation();
  ui.welcome.hidden = true;
  let messages;
  let runs;
  let session;
  try {
    [messages, runs, session] = await Promise.all([
      fetchAll(`/api/sessions/${sessionId}/messages/?page_size=100`),
      fetchAll(`/api/sessions/${sessionId}/runs/?page_size=100`),
      api(`/api/sessions/${sessionId}/`),
    ]);
  } catch (error) {
    if (token !== page.openToken) return;
    if (error.status === 404) {
      store(ACTIVE_KEY, null);
      newChat();
      showNotice("That chat no longer exists.", [], { kind: "info" });
    } else showNotice(...explain(error));
    return;
  }
  if (token !== page.openToken) return; // another chat was opened meanwhile
  ui.title.textContent = session.title || "Untitled chat";
  const { active, complex, decided } = drawHistory(messages, runs);
  follower.jump();
  const latest = active.at(-1);
  for (const [turn, run] of active.slice(0, -1)) {
    turn.view.render({ ...initialRunState({ runId: run.id, sessionId }), status: run.status }); // queued behind the latest
  }
  if (latest) {
    const [turn, run] = latest;
    const live = beginLive(turn.view, initialRunState({ runId: run.id, sessionId }));
    live.text = turn.text;
    startFollowing(live);
  } else if (load(ACTIVE_KEY)?.sessionId === sessionId) store(ACTIVE_KEY, null);
  updateRegenerate();
  if (!page.live) composer.restoreDraft();
  if (focusComposer && !PHONE.matches) composer.focus();
  drawPlans(complex, token);
  drawApprovals(decided, token);
}

function newChat() {
  sidebar.closeDrawer();
  page.openToken += 1;
  detachLive();
  hideNotice();
  page.sessionId = null;
  composer.setSession(null);
  setUrlSession(null);
  sidebar.markCurrent(null);
  ui.title.textContent = "New chat";
  clearConversation();
  ui.welcome.hidden = false;
  composer.restoreDraft();
  composer.focus();
}

// --- wiring ---------------------------------------------------------------------------------

const follower = new Follower({ box: ui.conversation, content: ui.messages, button: ui.jump });
const composer = new Composer({
  ui,
  maxChars: config.maxMessageChars,
  onSend: (text) => send(text, { origin: "composer" }),
  onStop: stopRun,
});
const sidebar = new Sidebar({
  ui,
  onOpen: (id) => openSession(id),
  onRename: (id) => dialogs.rename(id),
  onDelete: (id) => dialogs.delete(id),
  onError: (error) => {
    if (error.status === 401 || error.status === 403) showNotice(...explain(error));
  },
});
const dialogs = new ChatDialogs({
  ui,
  titleOf: (id) => sidebar.title(id),
  explain,
  onError: (text) => showNotice(text),
  onRenamed: async (session) => {
    if (session.id === page.sessionId) ui.title.textContent = session.title;
    await sidebar.refresh();
    sidebar.focusItem(session.id);
  },
  onDeleted: async (sessionId) => {
    if (sessionId === page.sessionId) newChat();
    await sidebar.refresh();
    ui.newChat.focus();
  },
});

ui.newChat.addEventListener("click", newChat);
ui.noticeClose.addEventListener("click", hideNotice);
ui.suggestions.addEventListener("click", (event) => {
  const chip = event.target.closest(".chip");
  if (chip) send(chip.textContent.trim(), { origin: "suggestion" });
});

async function start() {
  drawIcons();
  await sidebar.refresh();
  const fromUrl = new URLSearchParams(location.search).get("s");
  const sessionId = fromUrl || load(ACTIVE_KEY)?.sessionId || null;
  if (sessionId) await openSession(sessionId);
  else {
    composer.restoreDraft();
    composer.focus();
  }
  ui.app.dataset.ready = "true";
  showBudget();
}

start();
