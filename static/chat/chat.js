/* The chat UI: sessions sidebar, history, and a run streamed live over SSE.
 *
 * No dependencies and no build step. Everything the model or a user wrote is
 * put on the page as text nodes (textContent / createTextNode), never as HTML.
 * Contract: /api/sessions/… (history), POST /api/agent/stream (start a run and
 * read its events with fetch + ReadableStream, because EventSource cannot
 * POST), GET /api/agent/runs/<id>/stream (rejoin after Last-Event-ID),
 * POST /api/agent/runs/<id>/cancel (stop).
 */
(() => {
  "use strict";

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
    sessionList: $("session-list"),
    sessionsEmpty: $("sessions-empty"),
    moreSessions: $("more-sessions"),
    title: $("chat-title"),
    status: $("run-status"),
    conversation: $("conversation"),
    welcome: $("welcome"),
    suggestions: $("suggestions"),
    messages: $("messages"),
    notice: $("notice"),
    noticeText: $("notice-text"),
    noticeActions: $("notice-actions"),
    noticeClose: $("notice-close"),
    composer: $("composer"),
    input: $("message"),
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

  const STORE = { draft: "chat.draft", active: "chat.activeRun" };
  const RECONNECT = { baseMs: 500, maxMs: 8000, attempts: 8 };
  const ROUTES = {
    simple: ["Direct answer", "Answered directly"],
    tool: ["Tools", "Answered with tools"],
    complex: ["Plan", "Planned in steps run by executor agents"],
  };
  const STEP_WORDS = {
    pending: "waiting",
    running: "running",
    completed: "done",
    failed: "failed",
    skipped: "skipped",
    cancelled: "cancelled",
  };

  const state = {
    sessionId: null, // the chat on screen; null for a new chat
    sessions: new Map(), // id -> session as listed
    nextSessionsUrl: null,
    run: null, // the run being streamed into the page (see RunView)
    pendingText: "", // what was sent, kept until the server accepted it
    retryTimer: null,
  };

  // --- small helpers ----------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Stroke icons (24×24 viewBox); constant path data, so building them needs no HTML parsing.
  const ICONS = {
    menu: ["M4 6h16", "M4 12h16", "M4 18h16"],
    close: ["M6 6l12 12", "M18 6L6 18"],
    plus: ["M12 5v14", "M5 12h14"],
    stop: ["M7 7h10v10H7z"],
    send: ["M5 12h14", "M13 6l6 6-6 6"],
    edit: ["M4 20h4L19 9l-4-4L4 16z", "M14 6l4 4"],
    trash: ["M4 7h16", "M9 7V4h6v3", "M6 7l1 13h10l1-13", "M10 11v6", "M14 11v6"],
  };

  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    for (const [key, value] of Object.entries({ viewBox: "0 0 24 24", width: "18", height: "18", fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false" })) svg.setAttribute(key, value);
    for (const d of ICONS[name] || []) {
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function uuid4() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  const sleep = (ms, signal) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });

  function store(key, value) {
    try {
      if (value === null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, JSON.stringify(value));
    } catch {
      /* storage full or disabled: the feature degrades, the chat still works */
    }
  }

  function load(key) {
    try {
      return JSON.parse(sessionStorage.getItem(key));
    } catch {
      return null;
    }
  }

  const numberFormat = new Intl.NumberFormat();
  const formatTokens = (n) => `${numberFormat.format(n || 0)} token${n === 1 ? "" : "s"}`;
  const formatDuration = (ms) => (ms >= 10000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`);

  function relativeTime(iso) {
    const then = new Date(iso);
    const seconds = (Date.now() - then.getTime()) / 1000;
    if (seconds < 60) return "just now";
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return then.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  }

  function setStatus(text) {
    ui.status.textContent = text || "";
  }

  function showNotice(text, actions = [], { kind = "error" } = {}) {
    ui.notice.hidden = false;
    ui.notice.dataset.kind = kind;
    ui.noticeText.textContent = text;
    ui.noticeActions.replaceChildren(
      ...actions.map(([label, handler]) =>
        el("button", { type: "button", class: "btn btn-small", onclick: () => handler() }, label),
      ),
    );
  }

  function hideNotice() {
    ui.notice.hidden = true;
    ui.noticeText.textContent = "";
    ui.noticeActions.replaceChildren();
    clearInterval(state.retryTimer);
  }

  async function api(path, { method = "GET", body, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response, data);
    return data;
  }

  class ApiError extends Error {
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

  /** Say in plain words what a refused request means; return [text, actions]. */
  function explain(error) {
    if (error.status === 429) {
      const what = error.code === "token_budget_exceeded" ? "You've used this minute's token budget." : "You're sending messages faster than allowed.";
      return [`${what} Try again in ${error.retryAfter || "a few"} seconds.`, []];
    }
    if (error.status === 409) {
      return [
        "This chat is still answering your previous message. Wait for it, or follow it live.",
        error.runId ? [["Show the running answer", () => rejoin(error.runId)]] : [],
      ];
    }
    if (error.status === 401 || error.status === 403) {
      return ["Your sign-in has expired. Sign in again; your text is kept.", [["Sign in", () => location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname + location.search)}`)]]];
    }
    if (error.status === 404) {
      return ["This chat no longer exists. Your message is back in the box; send it to start a new chat.", [["New chat", () => newChat()]]];
    }
    if (error.status === 400) {
      const fieldProblems = Object.values(error.fields || {}).flat();
      return [fieldProblems.length ? `Can't send that: ${fieldProblems.join(" ")}` : error.message, []];
    }
    if (error.status === 0) return ["Can't reach the server. Check your connection and try again.", []];
    return [`Something went wrong (${error.status}). ${error.message}`, []];
  }

  // --- safe markdown-ish rendering (text nodes only) ---------------------------

  /** Append inline `code` and **bold** spans of a line to a parent, as text nodes. */
  function appendInline(parent, text) {
    const pattern = /(`[^`\n]+`|\*\*[^*\n]+\*\*)/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
      const token = match[0];
      parent.append(token.startsWith("`") ? el("code", { text: token.slice(1, -1) }) : el("strong", { text: token.slice(2, -2) }));
      last = match.index + token.length;
    }
    if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
  }

  /** Render text as paragraphs, lists, headings and code blocks built from text nodes. */
  function renderRichText(container, text) {
    const blocks = [];
    const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
    let paragraph = [];
    let list = null;
    const flushParagraph = () => {
      if (paragraph.length) {
        const p = el("p");
        paragraph.forEach((line, i) => {
          if (i) p.append(el("br"));
          appendInline(p, line);
        });
        blocks.push(p);
      }
      paragraph = [];
    };
    const flushList = () => {
      if (list) blocks.push(list);
      list = null;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.startsWith("```")) {
        flushParagraph();
        flushList();
        const code = [];
        for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
        blocks.push(el("pre", {}, el("code", { text: code.join("\n") })));
        continue;
      }
      const heading = line.match(/^(#{1,4})\s+(.*)$/);
      const bullet = line.match(/^\s*[-*•]\s+(.*)$/);
      const numbered = line.match(/^\s*\d+[.)]\s+(.*)$/);
      if (!line.trim()) {
        flushParagraph();
        flushList();
      } else if (heading) {
        flushParagraph();
        flushList();
        const node = el("p", { class: "rich-heading" });
        appendInline(node, heading[2]);
        blocks.push(node);
      } else if (bullet || numbered) {
        flushParagraph();
        const tag = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) {
          flushList();
          list = el(tag);
        }
        const item = el("li");
        appendInline(item, (bullet || numbered)[1]);
        list.append(item);
      } else {
        flushList();
        paragraph.push(line);
      }
    }
    flushParagraph();
    flushList();
    container.replaceChildren(...blocks);
  }

  /** Return a value as readable text: JSON (also JSON sent as a string, like tool arguments) is indented. */
  function asText(value) {
    if (typeof value === "string") {
      if (!/^\s*[[{]/.test(value)) return value;
      try {
        return JSON.stringify(JSON.parse(value), null, 2);
      } catch {
        return value;
      }
    }
    return JSON.stringify(value, null, 2);
  }

  // --- messages ---------------------------------------------------------------

  function scrollToEnd({ force = false } = {}) {
    const box = ui.conversation;
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 160;
    if (force || nearBottom) box.scrollTop = box.scrollHeight;
  }

  /** The label under an answer that was cut off before the model finished it (message status `incomplete`). */
  function incompleteNote() {
    return el("p", { class: "incomplete-note", role: "note" }, el("strong", { text: "Incomplete" }), " — the model's answer was cut off.");
  }

  function messageNode(role, text, { pending = false, status = "complete" } = {}) {
    const body = el("div", { class: "bubble" });
    if (role === "assistant") renderRichText(body, text);
    else body.textContent = text;
    const incomplete = role === "assistant" && status === "incomplete";
    const node = el(
      "article",
      {
        class: `message message-${role}${pending ? " is-pending" : ""}${incomplete ? " is-incomplete" : ""}`,
        "aria-label": role === "user" ? "You" : "Assistant",
        dataset: { messageStatus: status },
      },
      el("div", { class: "message-role", "aria-hidden": "true", text: role === "user" ? "You" : "Assistant" }),
      body,
      incomplete ? incompleteNote() : null,
    );
    ui.welcome.hidden = true;
    return node;
  }

  function appendMessage(role, text, options) {
    const node = messageNode(role, text, options);
    ui.messages.append(node);
    scrollToEnd({ force: true });
    return node;
  }

  // --- one run on screen -------------------------------------------------------

  /** The DOM of one run, built from its events in seq order. */
  class RunView {
    constructor({ runId = null, sessionId = null } = {}) {
      this.runId = runId;
      this.sessionId = sessionId;
      this.lastSeq = 0;
      this.finished = false;
      this.detached = false;
      this.answer = "";
      this.renderQueued = false;
      this.steps = new Map();
      this.executors = new Map();
      this.toolCalls = new Map();
      this.startedAt = performance.now();
      this.abort = new AbortController();

      this.routeBox = el("div", { class: "run-route", hidden: true });
      this.trace = el("div", { class: "run-trace" });
      this.answerBox = el("div", { class: "bubble answer", "aria-live": "polite", "aria-busy": "true", "aria-atomic": "false" });
      this.thinking = el("p", { class: "thinking" }, el("span", { class: "dots", "aria-hidden": "true" }), " Working on it…");
      this.errorBox = el("div", { class: "run-errors" });
      this.footer = el("p", { class: "run-footer muted" });
      this.node = el(
        "article",
        { class: "message message-assistant run is-running", "aria-label": "Assistant" },
        el("div", { class: "message-role", "aria-hidden": "true", text: "Assistant" }),
        this.routeBox,
        this.trace,
        this.thinking,
        this.answerBox,
        this.errorBox,
        this.footer,
      );
    }

    /** Apply one event; events at or below the last seen seq are replays and are skipped. */
    apply(event) {
      if (typeof event.seq === "number") {
        if (event.seq <= this.lastSeq) return;
        this.lastSeq = event.seq;
      }
      if (event.run_id) this.runId = event.run_id;
      if (event.session_id) this.sessionId = event.session_id;
      const handler = this[`on_${event.type}`];
      if (typeof handler === "function") handler.call(this, event);
      this.node.dataset.lastSeq = String(this.lastSeq);
    }

    on_session(event) {
      onRunSession(this, event.session || {});
    }

    on_analysis(event) {
      const [label, description] = ROUTES[event.strategy] || [event.strategy, ""];
      this.routeBox.hidden = false;
      this.routeBox.replaceChildren(
        el("span", { class: `badge badge-${event.strategy}`, title: description, text: label }),
        event.reason ? el("span", { class: "route-reason muted", text: event.reason }) : null,
      );
      this.node.dataset.route = event.strategy;
    }

    on_plan_created(event) {
      const plan = event.plan || {};
      const list = el("ol", { class: "plan-steps" });
      // Steps depend on each other by id; people read "after step 1 and 2".
      const numbers = new Map((plan.steps || []).map((step, index) => [String(step.id), index + 1]));
      for (const step of plan.steps || []) {
        const after = (step.depends_on || []).map((id) => numbers.get(String(id)) ?? id);
        const stateText = el("span", { class: "visually-hidden step-state", text: STEP_WORDS.pending });
        const item = el(
          "li",
          { class: "step is-pending", dataset: { stepId: step.id, status: "pending" } },
          el(
            "div",
            { class: "step-head" },
            el("span", { class: "step-icon", "aria-hidden": "true" }),
            el("span", { class: "step-title", text: step.title || step.id }),
            stateText,
            after.length ? el("span", { class: "step-deps muted", text: `after step${after.length === 1 ? "" : "s"} ${after.join(", ")}` }) : null,
          ),
          el("div", { class: "step-body" }),
        );
        this.steps.set(String(step.id), { item, stateText, body: item.lastChild });
        list.append(item);
      }
      const plan_box = el(
        "section",
        { class: "plan", "aria-label": "Plan" },
        el("div", { class: "plan-head" }, el("span", { class: "plan-label", text: "Plan" }), el("span", { class: "plan-objective", text: plan.objective || "" })),
        list,
      );
      this.trace.append(plan_box);
    }

    setStep(stepId, status) {
      const step = this.steps.get(String(stepId));
      if (!step) return null;
      step.item.className = `step is-${status}`;
      step.item.dataset.status = status;
      step.stateText.textContent = STEP_WORDS[status] || status;
      return step;
    }

    on_step_start(event) {
      this.setStep(event.step?.id, "running");
    }

    on_step_complete(event) {
      const status = event.step?.status || "completed";
      const step = this.setStep(event.step?.id, status);
      const worthShowing = status === "completed" || status === "failed";
      if (step && worthShowing && event.step?.result && !step.body.querySelector(".executor")) {
        const result = el("div", { class: "step-result" });
        renderRichText(result, asText(event.step.result));
        step.body.append(el("details", { class: "fold" }, el("summary", { text: "Result" }), result));
      }
    }

    on_executor_spawned(event) {
      const state = el("span", { class: "fold-state", text: "working…" });
      const tools = el("div", { class: "tool-calls" });
      const result = el("div", { class: "executor-result" });
      const details = el(
        "details",
        { class: "fold executor", dataset: { executorId: event.executor_id } },
        el("summary", {}, el("span", { text: "Executor" }), " ", state),
        event.task?.instructions ? el("p", { class: "executor-task muted", text: event.task.instructions }) : null,
        tools,
        result,
      );
      const step = this.steps.get(String(event.step_id));
      (step ? step.body : this.trace).append(details);
      this.executors.set(String(event.executor_id), { details, state, tools, result });
    }

    on_tool_call(event) {
      const state = el("span", { class: "fold-state", text: "running…" });
      const output = el("div", { class: "tool-output" });
      const details = el(
        "details",
        { class: "fold tool", dataset: { callId: event.call_id } },
        el("summary", {}, el("code", { text: event.tool }), " ", state),
        el("div", { class: "tool-label", text: "Arguments" }),
        el("pre", { text: asText(event.arguments ?? "") }),
        output,
      );
      const executor = this.executors.get(String(event.agent_id));
      (executor ? executor.tools : this.trace).append(details);
      this.toolCalls.set(String(event.call_id), { details, state, output });
    }

    on_tool_result(event) {
      const call = this.toolCalls.get(String(event.call_id));
      if (!call) return;
      const took = typeof event.duration_ms === "number" ? ` · ${event.duration_ms} ms` : "";
      call.details.classList.add(event.ok ? "is-ok" : "is-failed");
      call.state.textContent = event.ok ? `done${took}` : `refused: ${event.error?.code || "error"}${took}`;
      call.output.replaceChildren(
        el("div", { class: "tool-label", text: event.ok ? "Result" : "Error" }),
        el("pre", { text: event.ok ? asText(event.result ?? "") : event.error?.message || asText(event.error) }),
      );
    }

    on_executor_result(event) {
      const executor = this.executors.get(String(event.executor_id));
      if (!executor) return;
      const tokens = event.usage?.total_tokens ? ` · ${formatTokens(event.usage.total_tokens)}` : "";
      executor.state.textContent = `${event.status}${tokens}`;
      executor.details.classList.add(`is-${event.status}`);
      if (event.result) renderRichText(executor.result, asText(event.result));
    }

    on_text(event) {
      this.answer += event.delta || "";
      this.thinking.hidden = true;
      if (!this.renderQueued) {
        this.renderQueued = true;
        requestAnimationFrame(() => {
          this.renderQueued = false;
          renderRichText(this.answerBox, this.answer);
          scrollToEnd();
        });
      }
    }

    on_resumed(event) {
      if (!event.answer_reset) return;
      this.answer = "";
      renderRichText(this.answerBox, "");
    }

    on_error(event) {
      const box = el("p", { class: event.fatal ? "run-error" : "run-warning", role: event.fatal ? "alert" : null });
      box.textContent = event.fatal ? `The run failed: ${event.message || event.code}` : `Note: ${event.message || event.code}`;
      this.errorBox.append(box);
    }

    on_retry(event) {
      const seconds = typeof event.delay_ms === "number" ? event.delay_ms / 1000 : null;
      this.errorBox.append(el("p", { class: "run-warning", text: `The model was busy; trying again${seconds ? ` in ${Math.round(seconds * 10) / 10} s` : ""}…` }));
    }

    on_done(event) {
      this.finished = true;
      renderRichText(this.answerBox, this.answer);
      this.thinking.hidden = true;
      this.answerBox.setAttribute("aria-busy", "false");
      this.answerBox.hidden = !this.answer;
      this.node.classList.remove("is-running");
      this.node.classList.add(`is-${event.status}`);
      this.node.dataset.status = event.status;
      if (event.message_id) this.node.dataset.messageId = event.message_id;
      // A run that ends any other way than `completed` stores the answer so far (message_id) as
      // `incomplete`: the same label shows now and after a reload (from the message's status).
      if (event.status !== "completed" && event.message_id && this.answer.trim() && !this.node.querySelector(".incomplete-note")) {
        this.node.classList.add("is-incomplete");
        this.answerBox.after(incompleteNote());
      }
      const usage = event.usage || {};
      const parts = [];
      const label = { cancelled: "Stopped", failed: "Failed", interrupted: "Interrupted" }[event.status] || event.status;
      if (event.status !== "completed") parts.push(el("span", { class: `badge badge-status-${event.status}`, text: label }));
      parts.push(
        el(
          "span",
          { class: "usage" },
          `${formatTokens(usage.total_tokens)} · ${usage.llm_calls ?? 0} LLM call${usage.llm_calls === 1 ? "" : "s"}`,
          typeof event.duration_ms === "number" ? ` · ${formatDuration(event.duration_ms)}` : "",
        ),
      );
      this.footer.replaceChildren(...parts);
      for (const [, step] of this.steps) if (step.item.dataset.status === "running") this.setStep(step.item.dataset.stepId, event.status === "cancelled" ? "cancelled" : "failed");
    }
  }

  // --- streams ----------------------------------------------------------------

  /** Read an SSE body, calling onEvent for each JSON event; return when the body ends. */
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const flush = (frame) => {
      const data = [];
      for (const raw of frame.split("\n")) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
      if (!data.length) return; // a keep-alive comment or an id-only frame
      let event;
      try {
        event = JSON.parse(data.join("\n"));
      } catch {
        return;
      }
      onEvent(event);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        flush(buffer.slice(0, boundary));
        buffer = buffer.slice(boundary + 2);
      }
    }
    if (buffer.trim()) flush(buffer);
  }

  function rememberActive(view) {
    if (view.runId && !view.finished) store(STORE.active, { runId: view.runId, sessionId: view.sessionId, lastSeq: view.lastSeq });
    else if (load(STORE.active)?.runId === view.runId) store(STORE.active, null);
  }

  /** Feed a stream's events to the view; return how many new events arrived. */
  async function consume(view, response) {
    const before = view.lastSeq;
    await readEvents(response, (event) => {
      if (view.detached) return;
      view.apply(event);
      rememberActive(view);
      if (event.type === "done") onRunDone(view, event);
    });
    return view.lastSeq - before;
  }

  /** Follow a run until `done`: rejoin after drops with bounded exponential backoff. */
  async function follow(view) {
    let failures = 0;
    while (!view.finished && !view.detached) {
      let response = null;
      try {
        response = await fetch(`/api/agent/runs/${view.runId}/stream?last_event_id=${view.lastSeq}`, {
          headers: { Accept: "text/event-stream", "Last-Event-ID": String(view.lastSeq) },
          credentials: "same-origin",
          signal: view.abort.signal,
        });
      } catch {
        if (view.detached) return;
      }
      if (response?.ok) {
        setStatus("Answering…");
        try {
          if ((await consume(view, response)) > 0) failures = 0;
        } catch {
          if (view.detached) return;
        }
        if (view.finished || view.detached) return;
      } else if (response && [401, 403, 404].includes(response.status)) {
        const data = await response.json().catch(() => null);
        const [text, actions] = explain(new ApiError(response, data));
        showNotice(text, actions);
        endRun(view);
        return;
      }
      failures += 1;
      if (failures > RECONNECT.attempts) {
        setStatus("");
        showNotice("Lost the connection to the running answer. It goes on on the server.", [["Reconnect", () => { hideNotice(); startFollowing(view); }]]);
        return;
      }
      const delay = Math.min(RECONNECT.maxMs, RECONNECT.baseMs * 2 ** (failures - 1)) * (0.8 + Math.random() * 0.4);
      setStatus(`Connection lost — reconnecting in ${Math.ceil(delay / 1000)} s…`);
      await sleep(delay, view.abort.signal);
    }
  }

  function startFollowing(view) {
    follow(view).catch(() => showNotice("Lost the live answer. Reload the page to see it.", [["Reload", () => location.reload()]]));
  }

  /** Attach a run view to the page as the live run. */
  function beginRun(view) {
    if (state.run && state.run !== view) detachRun();
    state.run = view;
    ui.messages.append(view.node);
    ui.welcome.hidden = true;
    ui.stop.hidden = false;
    ui.stop.disabled = !view.runId;
    ui.send.disabled = true;
    ui.app.classList.add("is-running");
    setStatus("Answering…");
    scrollToEnd({ force: true });
  }

  /** Stop listening to the live run (it goes on server-side) without touching its DOM. */
  function detachRun() {
    const view = state.run;
    if (!view) return;
    view.detached = true;
    view.abort.abort();
    state.pendingText = ""; // it belonged to that run; kept, it would block every draft of the next chat
    endRun(view);
  }

  function endRun(view) {
    if (state.run !== view) return;
    state.run = null;
    ui.stop.hidden = true;
    ui.send.disabled = false;
    ui.app.classList.remove("is-running");
    setStatus("");
  }

  function onRunSession(view, session) {
    ui.stop.disabled = false;
    if (!view.sessionId) return;
    const isNew = state.sessionId !== view.sessionId;
    state.sessionId = view.sessionId;
    if (isNew) setUrlSession(view.sessionId);
    if (session.title) ui.title.textContent = session.title;
    rememberActive(view);
    refreshSessions();
  }

  function onRunDone(view, event) {
    rememberActive(view);
    endRun(view);
    setStatus(event.status === "completed" ? "" : event.status === "cancelled" ? "Stopped." : "The run did not finish.");
    if ((event.status === "failed" || event.status === "interrupted") && state.pendingText && !ui.input.value.trim()) {
      // The message is stored in the chat, but put it back so it can be sent again with one key.
      setComposer(state.pendingText);
    }
    state.pendingText = "";
    refreshSessions();
  }

  // --- sending ----------------------------------------------------------------

  function setComposer(text) {
    ui.input.value = text;
    autosize();
    saveDraft();
  }

  function saveDraft() {
    store(STORE.draft, ui.input.value ? { text: ui.input.value, sessionId: state.sessionId } : null);
  }

  async function sendMessage() {
    const text = ui.input.value.trim();
    if (!text) {
      ui.input.focus();
      return;
    }
    if (state.run) {
      showNotice("Wait for the current answer, or press Stop first.", [], { kind: "info" });
      return;
    }
    if (text.length > config.maxMessageChars) {
      showNotice(`That message is ${text.length} characters; the limit is ${config.maxMessageChars}.`);
      return;
    }
    hideNotice();
    state.pendingText = ui.input.value;
    const bubble = appendMessage("user", text, { pending: true });
    setComposer("");
    store(STORE.draft, { text: state.pendingText, sessionId: state.sessionId }); // kept until the server accepts it
    const view = new RunView({ sessionId: state.sessionId });
    beginRun(view);

    const params = new URLSearchParams(location.search);
    const body = { message: text, session_id: state.sessionId };
    if (!state.sessionId) {
      body.context_type = params.get("context_type") || null;
      body.entity_id = params.get("entity_id") || null;
    }
    let response;
    try {
      response = await fetch("/api/agent/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream", "X-CSRFToken": csrfToken(), "Idempotency-Key": uuid4() },
        body: JSON.stringify(body),
        credentials: "same-origin",
        signal: view.abort.signal,
      });
    } catch {
      response = null;
    }
    if (view.detached) return; // another chat was opened meanwhile; the run, if it started, goes on
    if (!response || !response.ok) {
      const data = response ? await response.json().catch(() => null) : null;
      const error = response ? new ApiError(response, data) : Object.assign(new Error("offline"), { status: 0 });
      bubble.remove();
      view.node.remove();
      endRun(view);
      if (!ui.messages.children.length) ui.welcome.hidden = false;
      if (!ui.input.value.trim()) setComposer(state.pendingText);
      state.pendingText = "";
      const [message, actions] = explain(error);
      showNotice(message, actions);
      if (error.status === 429 && error.retryAfter) countDownRetry(error.retryAfter, message);
      ui.input.focus();
      return;
    }
    bubble.classList.remove("is-pending");
    store(STORE.draft, ui.input.value ? { text: ui.input.value, sessionId: state.sessionId } : null);
    try {
      await consume(view, response);
    } catch {
      /* the connection dropped mid-stream: follow() picks it up from the last seq */
    }
    if (!view.finished && !view.detached) {
      if (view.runId) startFollowing(view);
      else {
        endRun(view);
        showNotice("The connection dropped before the run started. Your message is back in the box.");
        if (!ui.input.value.trim()) setComposer(state.pendingText);
      }
    }
  }

  function countDownRetry(seconds, message) {
    clearInterval(state.retryTimer);
    let left = seconds;
    const base = message.replace(/Try again in .*$/, "");
    state.retryTimer = setInterval(() => {
      left -= 1;
      if (ui.notice.hidden) return clearInterval(state.retryTimer);
      if (left <= 0) {
        clearInterval(state.retryTimer);
        ui.noticeText.textContent = `${base}You can send again now.`;
      } else ui.noticeText.textContent = `${base}Try again in ${left} second${left === 1 ? "" : "s"}.`;
    }, 1000);
  }

  async function stopRun() {
    const view = state.run;
    if (!view?.runId) return;
    ui.stop.disabled = true;
    setStatus("Stopping…");
    try {
      await api(`/api/agent/runs/${view.runId}/cancel`, { method: "POST", body: {} });
    } catch (error) {
      ui.stop.disabled = false;
      showNotice(`Couldn't stop the run: ${error.message}`);
    }
  }

  /** Show a run of the current chat live (after a 409, or on load). */
  async function rejoin(runId) {
    hideNotice();
    if (state.run?.runId === runId) return;
    const view = new RunView({ runId, sessionId: state.sessionId });
    beginRun(view);
    startFollowing(view);
  }

  // --- sessions ---------------------------------------------------------------

  function setUrlSession(sessionId) {
    const url = new URL(location.href);
    if (sessionId) url.searchParams.set("s", sessionId);
    else url.searchParams.delete("s");
    history.replaceState(null, "", url);
  }

  function sessionItem(session) {
    const title = session.title || "Untitled chat";
    const meta = `${relativeTime(session.updated_at)} · ${session.message_count} message${session.message_count === 1 ? "" : "s"}`;
    return el(
      "li",
      { class: `session${session.id === state.sessionId ? " is-current" : ""}`, dataset: { sessionId: session.id } },
      el(
        "button",
        {
          type: "button",
          class: "session-open",
          "aria-current": session.id === state.sessionId ? "page" : null,
          onclick: () => openSession(session.id),
        },
        el("span", { class: "session-title", text: title }),
        el("span", { class: "session-meta", text: meta }),
      ),
      el(
        "div",
        { class: "session-actions" },
        el("button", { type: "button", class: "icon-btn", "aria-label": `Rename “${title}”`, title: "Rename", onclick: () => renameSession(session.id) }, icon("edit")),
        el("button", { type: "button", class: "icon-btn icon-danger", "aria-label": `Delete “${title}”`, title: "Delete", onclick: () => deleteSession(session.id) }, icon("trash")),
      ),
    );
  }

  function renderSessions(sessions, { append = false } = {}) {
    if (!append) {
      state.sessions.clear();
      ui.sessionList.replaceChildren();
    }
    for (const session of sessions) {
      state.sessions.set(session.id, session);
      ui.sessionList.append(sessionItem(session));
    }
    ui.sessionsEmpty.hidden = state.sessions.size > 0;
    ui.moreSessions.hidden = !state.nextSessionsUrl;
    const current = state.sessions.get(state.sessionId);
    if (current) ui.title.textContent = current.title || "Untitled chat";
  }

  // One refresh at a time; a request that comes in meanwhile runs once more afterwards, so the
  // list never stays older than the last change that asked for it.
  let refreshing = null;
  let refreshAgain = false;
  async function refreshSessions() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        refreshAgain = false;
        try {
          const page = await api("/api/sessions/?page_size=50");
          state.nextSessionsUrl = page.next;
          renderSessions(page.results);
        } catch (error) {
          if (error.status === 401 || error.status === 403) showNotice(...explain(error));
        }
      } while (refreshAgain);
      refreshing = null;
    })();
    return refreshing;
  }

  async function moreSessions() {
    if (!state.nextSessionsUrl) return;
    const url = new URL(state.nextSessionsUrl, location.href);
    const page = await api(url.pathname + url.search);
    state.nextSessionsUrl = page.next;
    renderSessions(page.results.filter((s) => !state.sessions.has(s.id)), { append: true });
  }

  async function fetchAll(path, limit = 10) {
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

  function markCurrentInSidebar() {
    for (const button of ui.sessionList.querySelectorAll(".session-open")) {
      const isCurrent = button.parentElement.dataset.sessionId === state.sessionId;
      button.parentElement.classList.toggle("is-current", isCurrent);
      if (isCurrent) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
    }
  }

  // Every open (and every new chat) takes a new token; an open whose token is no longer the latest
  // renders nothing, so a slow answer for one chat never lands in another, nor twice in the same one.
  let openToken = 0;
  async function openSession(sessionId, { focusComposer = true } = {}) {
    closeSidebar();
    if (sessionId === state.sessionId && state.run) return;
    const token = ++openToken;
    detachRun();
    hideNotice();
    state.sessionId = sessionId;
    setUrlSession(sessionId);
    markCurrentInSidebar();
    const known = state.sessions.get(sessionId);
    ui.title.textContent = known ? known.title || "Untitled chat" : "Loading…";
    ui.messages.replaceChildren();
    ui.welcome.hidden = true;
    let messages;
    let runs;
    let session;
    try {
      [messages, runs, session] = await Promise.all([
        fetchAll(`/api/sessions/${sessionId}/messages/?page_size=100`),
        api(`/api/sessions/${sessionId}/runs/?page_size=100`).then((page) => page.results),
        api(`/api/sessions/${sessionId}/`),
      ]);
    } catch (error) {
      if (token !== openToken) return;
      if (error.status === 404) {
        store(STORE.active, null);
        newChat();
        showNotice("That chat no longer exists.", [], { kind: "info" });
      } else showNotice(...explain(error));
      return;
    }
    if (token !== openToken) return; // another chat was opened meanwhile
    ui.title.textContent = session.title || "Untitled chat";
    const runByAnswer = new Map(runs.filter((r) => r.assistant_message_id).map((r) => [r.assistant_message_id, r]));
    for (const message of messages) {
      const node = messageNode(message.role, message.content, { status: message.status });
      const run = runByAnswer.get(message.id);
      if (run) addRunDetails(node, run);
      ui.messages.append(node);
    }
    scrollToEnd({ force: true });
    const latest = runs[0];
    if (latest?.is_active) rejoin(latest.id);
    else if (load(STORE.active)?.sessionId === sessionId) store(STORE.active, null);
    restoreDraft();
    if (focusComposer && !matchMedia("(max-width: 760px)").matches) ui.input.focus();
  }

  /** Under a stored answer: its usage, and a button that replays how it was made. */
  function addRunDetails(node, run) {
    const parts = [formatTokens(run.total_tokens)];
    if (run.duration_ms) parts.push(formatDuration(run.duration_ms));
    const footer = el("p", { class: "run-footer muted" }, el("span", { class: "usage", text: parts.join(" · ") }));
    if (run.route === "complex" || run.route === "tool") {
      const button = el("button", { type: "button", class: "btn btn-ghost btn-small", text: run.route === "complex" ? "Show plan and steps" : "Show tool calls" });
      button.addEventListener("click", () => replayRun(node, run, button));
      footer.append(" ", button);
    }
    node.append(footer);
  }

  async function replayRun(node, run, button) {
    button.disabled = true;
    const view = new RunView({ runId: run.id, sessionId: state.sessionId });
    try {
      const response = await fetch(`/api/agent/runs/${run.id}/stream?last_event_id=0`, { headers: { Accept: "text/event-stream" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      await readEvents(response, (event) => {
        if (event.type !== "text" && event.type !== "done" && event.type !== "session") view.apply(event);
      });
    } catch {
      button.disabled = false;
      return;
    }
    const trace = el("div", { class: "run-replay" }, view.routeBox, view.trace);
    node.querySelector(".bubble").before(trace);
    button.remove();
  }

  function newChat() {
    closeSidebar();
    openToken += 1;
    detachRun();
    hideNotice();
    state.sessionId = null;
    setUrlSession(null);
    markCurrentInSidebar();
    ui.title.textContent = "New chat";
    ui.messages.replaceChildren();
    ui.welcome.hidden = false;
    restoreDraft();
    ui.input.focus();
  }

  function restoreDraft() {
    if (state.run || state.pendingText) return; // sent meanwhile (fast typists beat the first page load)
    const draft = load(STORE.draft);
    if (draft?.text && !ui.input.value && (draft.sessionId || null) === state.sessionId) setComposer(draft.text);
  }

  let renaming = null;
  function renameSession(sessionId) {
    const session = state.sessions.get(sessionId);
    renaming = sessionId;
    ui.renameInput.value = session?.title || "";
    ui.renameError.hidden = true;
    ui.renameDialog.showModal();
    ui.renameInput.select();
  }

  async function saveRename(event) {
    event.preventDefault();
    const sessionId = renaming; // the dialog may be closed and opened for another chat while this saves
    const title = ui.renameInput.value.trim();
    if (!title) {
      ui.renameError.textContent = "The title can't be empty.";
      ui.renameError.hidden = false;
      ui.renameInput.focus();
      return;
    }
    try {
      const session = await api(`/api/sessions/${sessionId}/`, { method: "PATCH", body: { title } });
      if (renaming === sessionId) ui.renameDialog.close();
      if (session.id === state.sessionId) ui.title.textContent = session.title;
      await refreshSessions();
      ui.sessionList.querySelector(`[data-session-id="${CSS.escape(session.id)}"] .session-open`)?.focus();
    } catch (error) {
      if (renaming !== sessionId) return;
      ui.renameError.textContent = explain(error)[0];
      ui.renameError.hidden = false;
    }
  }

  // The chat the open delete dialog asks about. The decision is read from the form's `submit`
  // (which names the button pressed) while the dialog is still open, never from its `close` event:
  // that one is queued, so a cancelled dialog's late `close` could arrive after the next one opened.
  let deleting = null;
  function deleteSession(sessionId) {
    const session = state.sessions.get(sessionId);
    deleting = sessionId;
    ui.deleteText.textContent = `“${session?.title || "Untitled chat"}” and all its messages and runs will be deleted. This can't be undone.`;
    ui.deleteDialog.showModal();
  }

  function decideDelete(event) {
    const sessionId = deleting;
    deleting = null;
    if (event.submitter?.value === "delete" && sessionId) confirmDelete(sessionId);
  }

  async function confirmDelete(sessionId) {
    try {
      await api(`/api/sessions/${sessionId}/`, { method: "DELETE" });
    } catch (error) {
      if (error.status !== 404) return showNotice(`Couldn't delete the chat: ${error.message}`);
    }
    if (sessionId === state.sessionId) newChat();
    await refreshSessions();
    ui.newChat.focus();
  }

  // --- layout -----------------------------------------------------------------

  // On a phone the sidebar is a drawer over the chat: while it is open the chat behind is inert,
  // so Tab stays in the drawer and screen readers do not wander behind it.
  function openSidebar() {
    ui.app.classList.add("sidebar-open");
    ui.backdrop.hidden = false;
    ui.main.inert = true;
    ui.openSidebar.setAttribute("aria-expanded", "true");
    ui.newChat.focus();
  }

  function closeSidebar() {
    if (!ui.app.classList.contains("sidebar-open")) return;
    ui.app.classList.remove("sidebar-open");
    ui.backdrop.hidden = true;
    ui.main.inert = false;
    ui.openSidebar.setAttribute("aria-expanded", "false");
  }

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 240)}px`;
  }

  // --- wiring -----------------------------------------------------------------

  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    }
  });
  ui.input.addEventListener("input", () => {
    autosize();
    saveDraft();
  });
  ui.stop.addEventListener("click", stopRun);
  ui.newChat.addEventListener("click", newChat);
  ui.moreSessions.addEventListener("click", moreSessions);
  ui.openSidebar.addEventListener("click", openSidebar);
  ui.closeSidebar.addEventListener("click", () => {
    closeSidebar();
    ui.openSidebar.focus();
  });
  ui.backdrop.addEventListener("click", closeSidebar);
  ui.noticeClose.addEventListener("click", hideNotice);
  ui.renameForm.addEventListener("submit", saveRename);
  ui.deleteForm.addEventListener("submit", decideDelete);
  ui.renameCancel.addEventListener("click", () => ui.renameDialog.close());
  ui.suggestions.addEventListener("click", (event) => {
    const chip = event.target.closest(".chip");
    if (!chip) return;
    setComposer(chip.textContent.trim());
    ui.input.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.app.classList.contains("sidebar-open")) {
      closeSidebar();
      ui.openSidebar.focus();
    }
  });

  async function start() {
    for (const slot of document.querySelectorAll("[data-icon]")) slot.replaceChildren(icon(slot.dataset.icon));
    await refreshSessions();
    const fromUrl = new URLSearchParams(location.search).get("s");
    const active = load(STORE.active);
    const sessionId = fromUrl || active?.sessionId || null;
    if (sessionId) await openSession(sessionId);
    else {
      restoreDraft();
      ui.input.focus();
    }
    autosize();
    ui.app.dataset.ready = "true";
  }

  start();
})();
