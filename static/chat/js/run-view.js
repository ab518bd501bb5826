/* The DOM of one assistant turn, drawn from its run state (run-state.js).
 *
 * `RunView.render(state)` updates the page to match a state: parts are keyed
 * (steps by id, executors by id, tool calls by id) and only what changed is
 * touched, so a live run and a run read back after a reload are drawn by the
 * same code. The answer is markdown, drawn at most once per frame.
 */
import { ApprovalCards } from "./approval-view.js";
import { asText, copyButton, el, formatDuration, formatNumber, formatTokens, icon } from "./dom.js";
import { costLabel, errorParts } from "./run-state.js";

import { renderMarkdown } from "./markdown.js";

/** A failed or interrupted run's reason; a code and run reference for support go on a quieter line. */
function errorBox(what, message) {
  const { text, support } = errorParts(message);
  return el(
    "div",
    { class: "run-error", role: "alert" },
    el("p", { class: "run-error-text", text: `${what}: ${text || message}` }),
    support ? el("p", { class: "run-reference", text: `Reference for support: ${support}` }) : null,
  );
}

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
export const STATUS_LABELS = { cancelled: "Stopped", failed: "Failed", interrupted: "Interrupted" };
const INTERRUPT_REASONS = {
  worker_lost: "the server running it stopped, and it could not be resumed",
  shutdown: "the server was shut down",
};

/** The label under an answer that did not finish (message status `incomplete`). */
export function incompleteNote(status) {
  const text =
    status === "cancelled"
      ? [el("strong", { text: "Stopped" }), " — this is what was written before you stopped it."]
      : [el("strong", { text: "Incomplete" }), " — the model's answer was cut off."];
  return el("p", { class: "incomplete-note", role: "note" }, ...text);
}

export class RunView {
  /**
   * `actions` are callbacks of the page: `regenerate()`, `replay(view)` (load a
   * stored run's events); each, when given, adds its button to the footer.
   */
  constructor({ actions = {} } = {}) {
    this.actions = actions;
    this.state = null;
    this.steps = new Map(); // step id -> {item, stateText, body, resultBox}
    this.executors = new Map(); // executor id -> {details, stateText, tools, result, shown}
    this.toolCalls = new Map(); // call id -> {details, stateText, output, shown}
    this.thoughts = new Map(); // agent id -> {details, text, shown}
    this.notesShown = 0;
    this.replayed = false; // the stored events were loaded (Show tool calls)
    this.answerShown = null;
    this.frame = 0;

    this.routeBox = el("div", { class: "run-route", hidden: true });
    // The planner thinks before it plans: its thinking comes first in the trace, the plan after it.
    this.plannerThoughts = el("div", { class: "planner-thoughts" });
    this.trace = el("div", { class: "run-trace" }, this.plannerThoughts);
    // A tool call's approval (only the planner may call write tools) comes before the calls it let run,
    // after the planner's thinking; a plan's review after the plan.
    this.plannerApprovals = el("div", { class: "planner-approvals" });
    this.trace.append(this.plannerApprovals);
    this.approvals = new ApprovalCards({ place: (card, approval) => this.placeApproval(card, approval) });
    this.working = el("p", { class: "thinking" }, el("span", { class: "dots", "aria-hidden": "true" }), " Working on it…");
    this.answerBox = el("div", { class: "bubble answer markdown", "aria-live": "polite", "aria-busy": "true", "aria-atomic": "false" });
    this.notes = el("div", { class: "run-errors" });
    this.outcome = el("div", { class: "run-outcome" });
    this.footer = el("div", { class: "run-footer muted" });
    this.node = el(
      "article",
      { class: "message message-assistant run is-running", "aria-label": "Assistant" },
      el("div", { class: "message-role", "aria-hidden": "true", text: "Assistant" }),
      this.routeBox,
      this.trace,
      this.approvals.node,
      this.working,
      this.answerBox,
      this.notes,
      this.outcome,
      this.footer,
    );
  }

  /** Draw a state; parts that did not change between the last state and this one are left alone. */
  render(state) {
    const before = this.state;
    if (state === before) return;
    this.state = state;
    if (state.runId) this.node.dataset.runId = state.runId;
    this.node.dataset.lastSeq = String(state.lastSeq);
    if (!before || state.route !== before.route || state.routeReason !== before.routeReason) this.drawRoute(state);
    if (!before || state.plan !== before.plan) this.drawPlan(state);
    if (!before || state.executors !== before.executors) this.drawExecutors(state);
    if (!before || state.toolCalls !== before.toolCalls) this.drawToolCalls(state);
    if (!before || state.thinking !== before.thinking) this.drawThinking(state);

    if (!before || state.approvals !== before.approvals || state.finished !== before.finished) this.approvals.render(state);
    if (state.notes.length !== this.notesShown) this.drawNotes(state);
    if (state.answer !== this.answerShown) this.scheduleAnswer(state.finished);
    this.working.hidden = state.finished || Boolean(state.answer) || state.status === "waiting";
    if (state.finished && (!before || !before.finished || before.status !== state.status)) this.drawOutcome(state);
    else if (!state.finished) this.node.dataset.status = state.status || "running";
  }

  drawRoute(state) {
    if (!state.route) {
      this.routeBox.hidden = true;
      return;
    }
    const [label, description] = ROUTES[state.route] || [state.route, ""];
    this.routeBox.hidden = false;
    this.routeBox.replaceChildren(
      el("span", { class: `badge badge-${state.route}`, title: description, text: label }),
      state.routeReason ? el("span", { class: "route-reason muted", text: state.routeReason }) : null,
    );
    this.node.dataset.route = state.route;
  }

  // --- plan ---------------------------------------------------------------------

  drawPlan(state) {
    const plan = state.plan;
    if (!plan) return;
    if (!this.planBox) {
      this.planSummary = el("span", { class: "plan-progress muted" });
      this.planObjective = el("span", { class: "plan-objective" });
      this.stepList = el("ol", { class: "plan-steps" });
      // A run read back finished shows its plan folded; one that is live, or did not complete, open.
      this.planBox = el(
        "details",
        { class: "plan", "aria-label": "Plan", open: !(state.finished && state.status === "completed") },
        el("summary", { class: "plan-head" }, el("span", { class: "plan-label", text: "Plan" }), this.planObjective, this.planSummary),
        this.stepList,
      );
      this.plannerThoughts.after(this.planBox);
    }
    this.planObjective.textContent = plan.objective;
    // Steps depend on each other by id; people read "after step 1 and 2".
    const numbers = new Map(plan.steps.map((step, index) => [step.id, index + 1]));
    const seen = new Set();
    plan.steps.forEach((step, index) => {
      seen.add(step.id);
      let view = this.steps.get(step.id);
      if (!view) {
        view = this.stepView(step, numbers);
        this.steps.set(step.id, view);
      }
      if (this.stepList.children[index] !== view.item) this.stepList.insertBefore(view.item, this.stepList.children[index] || null);
      this.updateStep(view, step);
    });
    for (const [id, view] of this.steps) {
      if (!seen.has(id)) {
        view.item.remove();
        this.steps.delete(id);
      }
    }
    const done = plan.steps.filter((step) => step.status === "completed").length;
    this.planSummary.textContent = `${done} of ${plan.steps.length} step${plan.steps.length === 1 ? "" : "s"} done`;
  }

  stepView(step, numbers) {
    const after = step.dependsOn.map((id) => numbers.get(id) ?? id);
    const stateText = el("span", { class: "visually-hidden step-state", text: STEP_WORDS[step.status] || step.status });
    const body = el("div", { class: "step-body" });
    const item = el(
      "li",
      { class: `step is-${step.status}`, dataset: { stepId: step.id, status: step.status } },
      el(
        "div",
        { class: "step-head" },
        el("span", { class: "step-icon", "aria-hidden": "true" }),
        el("span", { class: "step-title", text: step.title }),
        stateText,
        after.length ? el("span", { class: "step-deps muted", text: `after step${after.length === 1 ? "" : "s"} ${after.join(", ")}` }) : null,
      ),
      body,
    );
    return { item, stateText, body, resultBox: null, status: step.status, result: null };
  }

  updateStep(view, step) {
    if (view.status !== step.status) {
      view.status = step.status;
      view.item.className = `step is-${step.status}`;
      view.item.dataset.status = step.status;
      view.stateText.textContent = STEP_WORDS[step.status] || step.status;
    }
    // A step's result is shown with its executor when it has one; otherwise (read back, skipped) here.
    const worthShowing = (step.status === "completed" || step.status === "failed") && step.result;
    const hasExecutor = this.state.executors.some((executor) => executor.stepId === step.id && executor.result);
    if (worthShowing && !hasExecutor && view.result !== step.result) {
      view.result = step.result;
      const content = el("div", { class: "step-result markdown" });
      renderMarkdown(content, asText(step.result));
      const fold = el("details", { class: "fold step-result-fold" }, el("summary", { text: "Result" }), content);
      if (view.resultBox) view.resultBox.replaceWith(fold);
      else view.body.append(fold);
      view.resultBox = fold;
    }
  }

  // --- executors and tool calls -----------------------------------------------------

  drawExecutors(state) {
    for (const executor of state.executors) {
      let view = this.executors.get(executor.id);
      if (!view) {
        const stateText = el("span", { class: "fold-state" });
        const tools = el("div", { class: "tool-calls" });
        const result = el("div", { class: "executor-result markdown" });
        const details = el(
          "details",
          { class: "fold executor", dataset: { executorId: executor.id } },
          el("summary", {}, el("span", { text: "Executor" }), " ", stateText),
          executor.task ? el("p", { class: "executor-task muted", text: executor.task }) : null,
          tools,
          result,
        );
        const step = executor.stepId ? this.steps.get(executor.stepId) : null;
        if (step?.resultBox) {
          step.resultBox.remove(); // the executor shows the result
          step.resultBox = null;
        }
        (step ? step.body : this.trace).append(details);
        view = { details, stateText, tools, result, shown: null };
        this.executors.set(executor.id, view);
      }
      if (view.shown === executor) continue;
      view.shown = executor;
      const tokens = executor.usage?.total_tokens ? ` · ${formatTokens(executor.usage.total_tokens)}` : "";
      view.stateText.textContent = executor.status === "running" ? "working…" : `${executor.status}${tokens}`;
      view.details.className = `fold executor is-${executor.status}`;
      if (executor.result) renderMarkdown(view.result, asText(executor.result));
    }
  }

  placeApproval(card, approval) {
    (approval.kind === "tool" ? this.plannerApprovals : this.approvals.node).append(card);
  }

  /** Fold each agent's thinking under it: an executor's inside its fold, before its tool calls; the planner's first in the trace. */
  drawThinking(state) {
    for (const entry of state.thinking) {
      let view = this.thoughts.get(entry.agentId);
      if (!view) {
        const text = el("div", { class: "thoughts-text" });
        const details = el(
          "details",
          { class: "fold thoughts", dataset: { agentId: entry.agentId, agentKind: entry.agentKind } },
          el("summary", { text: "Thinking" }),
          text,
        );
        const executor = this.executors.get(entry.agentId);
        if (executor) executor.tools.before(details);
        else if (entry.agentKind === "planner") this.plannerThoughts.append(details);
        else this.trace.append(details);
        view = { details, text, shown: null };
        this.thoughts.set(entry.agentId, view);
      }
      if (view.shown === entry.text) continue;
      view.shown = entry.text;
      view.text.textContent = entry.text; // model text: never HTML
    }
  }

  drawToolCalls(state) {
    for (const call of state.toolCalls) {
      let view = this.toolCalls.get(call.id);
      if (!view) {
        const stateText = el("span", { class: "fold-state" });
        const output = el("div", { class: "tool-output" });
        const details = el(
          "details",
          { class: "fold tool", dataset: { callId: call.id } },
          el("summary", {}, el("code", { text: call.tool }), " ", stateText),
          el("div", { class: "tool-label", text: "Arguments" }),
          el("pre", { class: "tool-arguments", text: asText(call.arguments) }),
          output,
        );
        const executor = call.agentId ? this.executors.get(call.agentId) : null;
        (executor ? executor.tools : this.trace).append(details);
        view = { details, stateText, output, shown: null };
        this.toolCalls.set(call.id, view);
      }
      if (view.shown === call) continue;
      view.shown = call;
      const took = typeof call.durationMs === "number" ? ` · ${call.durationMs} ms` : "";
      if (call.status === "running") view.stateText.textContent = "running…";
      else if (call.status === "ok") view.stateText.textContent = `done${took}`;
      else view.stateText.textContent = `refused: ${call.error?.code || "error"}${took}`;
      view.details.className = `fold tool${call.status === "running" ? "" : call.status === "ok" ? " is-ok" : " is-failed"}`;
      if (call.status !== "running") {
        view.output.replaceChildren(
          el("div", { class: "tool-label", text: call.status === "ok" ? "Result" : "Error" }),
          el("pre", { text: call.status === "ok" ? asText(call.result) : call.error?.message || asText(call.error) }),
        );
      }
    }
  }

  // --- answer, notes, outcome --------------------------------------------------------

  scheduleAnswer(now) {
    if (now) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.drawAnswer();
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.drawAnswer();
    });
  }

  drawAnswer() {
    const answer = this.state.answer;
    if (answer === this.answerShown) return;
    this.answerShown = answer;
    renderMarkdown(this.answerBox, answer);
    this.answerBox.hidden = !answer && this.state.finished;
  }

  drawNotes(state) {
    if (state.notes.length < this.notesShown) {
      this.notes.querySelectorAll(".run-warning, .run-info").forEach((node) => node.remove());
      this.notesShown = 0;
    }
    for (const note of state.notes.slice(this.notesShown)) {
      const kind = note.kind === "resumed" || note.kind === "info" ? "run-info" : "run-warning";
      this.notes.append(el("p", { class: kind, dataset: { note: note.kind }, text: note.text }));
    }
    this.notesShown = state.notes.length;
  }

  drawOutcome(state) {
    const status = state.status;
    this.node.classList.remove("is-running");
    for (const name of [...this.node.classList]) if (name.startsWith("is-") && name !== "is-incomplete") this.node.classList.remove(name);
    if (status) {
      this.node.classList.add(`is-${status}`);
      this.node.dataset.status = status;
    }
    this.node.dataset.messageStatus = state.messageStatus;
    this.answerBox.setAttribute("aria-busy", "false");
    this.answerBox.hidden = !state.answer;
    if (state.messageId) this.node.dataset.messageId = state.messageId;

    const outcome = [];
    const incomplete = state.messageStatus === "incomplete" && state.answer.trim();
    this.node.classList.toggle("is-incomplete", Boolean(incomplete));
    if (incomplete) outcome.push(incompleteNote(status));
    if (status === "failed") {
      outcome.push(errorBox("The run failed", state.error?.message || state.error?.code || "an unknown error."));
    } else if (status === "interrupted") {
      outcome.push(errorBox("The run was interrupted", state.error?.message || INTERRUPT_REASONS[state.error?.code] || state.error?.code || "the server stopped it"));
    } else if (status === "cancelled" && !state.answer.trim()) {
      outcome.push(el("p", { class: "run-stopped muted", text: "Stopped before an answer was written." }));
    }
    this.outcome.replaceChildren(...outcome);
    this.drawFooter(state);
  }

  drawFooter(state) {
    const parts = [];
    const label = STATUS_LABELS[state.status];
    if (label) parts.push(el("span", { class: `badge badge-status-${state.status}`, text: label }));
    if (state.usage) {
      const calls = state.usage.llm_calls ?? 0;
      const usage = [];
      // A run that made no call (refused by the model at once) has no tokens worth a line of zeros.
      if (calls || state.usage.total_tokens) {
        usage.push(`${formatTokens(state.usage.total_tokens)} · ${formatNumber(calls)} LLM call${calls === 1 ? "" : "s"}`);
      }
      const cost = costLabel(state.usage);
      if (cost) usage.push(cost);
      if (typeof state.durationMs === "number") usage.push(formatDuration(state.durationMs));
      const title = state.usage.cost_known === false ? "Some calls used a model without a known price; they are counted as $0." : null;
      if (usage.length) parts.push(el("span", { class: "usage", title }, usage.join(" · ")));
    }
    const buttons = el("span", { class: "run-actions" });
    if (state.answer.trim()) {
      buttons.append(copyButton(() => this.state.answer, { className: "btn btn-ghost btn-small copy-answer", title: "Copy the answer" }));
    }
    // Tool calls and thinking are only in the run's events: a run read back offers to load them. A run
    // drawn from its events (lastSeq > 0) already shows all it had; an offer there would find nothing.
    const replayable =
      (state.route === "tool" || state.route === "complex") && !state.lastSeq && !state.toolCalls.length && !state.thinking.length;
    if (this.actions.replay && replayable && !this.replayed && state.runId) {
      const label = state.route === "complex" ? "Show tool calls and thinking" : "Show tool calls";
      const replay = el("button", { type: "button", class: "btn btn-ghost btn-small show-details", text: label });
      replay.addEventListener("click", () => this.actions.replay(this, replay));
      buttons.append(replay);
    }
    if (this.actions.regenerate) {
      const again = el("button", { type: "button", class: "btn btn-ghost btn-small regenerate", title: "Ask again for a new answer" }, icon("retry", 14), " Regenerate");
      again.addEventListener("click", () => this.actions.regenerate(this));
      buttons.append(again);
    }
    if (buttons.children.length) parts.push(buttons);
    this.footer.replaceChildren(...parts);
  }

  /** Show or hide the Regenerate button (only the last turn has it, and not while a run is live). */
  setRegenerate(handler) {
    if (this.actions.regenerate === handler) return;
    this.actions = { ...this.actions, regenerate: handler };
    if (this.state?.finished) this.drawFooter(this.state);
  }
}
