/* The approval cards of one run: a write tool call or a plan waiting for the user, and what was decided.
 *
 * `ApprovalCards.render(state)` draws one card per approval of the run state
 * (run-state.js `approvals`), keyed by id. A pending card of a live run has
 * Approve, Edit and Reject; Edit opens the arguments (a tool call) or the
 * steps (a plan) as JSON to change before approving. The decision is posted
 * to the approvals API; the run's stream then brings `approval_result` and
 * the run goes on in the same view. A decided card says what was decided and
 * by whom, also for a run read back after a reload. Where a card goes is the
 * run view's choice (`place`): a plan's after the plan, a tool call's before
 * the calls of the agent that asked.
 */
import { asText, el } from "./dom.js";
import { api } from "./transport.js";

const DECISIONS = {
  approved: "Approved",
  rejected: "Rejected",
  expired: "Expired — no decision in time, counted as rejected",
};

function planSteps(plan) {
  return (plan?.steps || []).map((step) => ({
    id: step.key || String(step.id),
    title: step.title || "",
    instructions: step.instructions || "",
    depends_on: (step.depends_on || []).map((dependency) => {
      const named = (plan.steps || []).find((other) => String(other.id) === String(dependency));
      return named?.key || String(dependency);
    }),
  }));
}

function planHint(plan) {
  const count = (plan?.steps || []).length;
  const steps = count === 1 ? "the step above" : `the ${count} steps above`;
  return `Approve to run ${steps}, Edit to change them first, or Reject for an answer without a plan.`;
}

function decidedText(approval) {
  const what = DECISIONS[approval.decision] || approval.decision;
  const who = approval.decidedBy ? ` by ${approval.decidedBy}` : "";
  const why = approval.reason ? `: ${approval.reason}` : "";
  return `${what}${approval.decision === "expired" ? "" : who}${approval.decision === "expired" ? "" : why}`;
}

export class ApprovalCards {
  /** `place(card, approval)`: put a new card where it belongs (default: this.node, after the run's trace). */
  constructor({ place } = {}) {
    this.node = el("div", { class: "run-approvals" });
    this.place = place || ((card) => this.node.append(card));
    this.cards = new Map(); // approval id -> {card, body, status, controls, error, shown}
  }

  render(state) {
    for (const approval of state.approvals || []) {
      let view = this.cards.get(approval.id);
      if (!view) {
        view = this.createCard(approval, state);
        this.cards.set(approval.id, view);
        this.place(view.card, approval);
      }
      const key = `${approval.decision}|${approval.decidedBy}|${approval.reason}|${state.finished}`;
      if (view.shown === key) continue;
      view.shown = key;
      this.update(view, approval, state);
    }
  }

  createCard(approval, state) {
    const title = approval.kind === "plan" ? "Review the plan before it runs" : `Allow “${approval.tool}”?`;
    // A plan's steps are already on the page, in the plan card just above: the card does not list them again.
    const body =
      approval.kind === "plan"
        ? el("p", { class: "approval-hint", text: planHint(approval.plan) })
        : el("pre", { class: "approval-arguments", text: asText(approval.arguments) });
    const status = el("p", { class: "approval-status", role: "status" });
    const error = el("p", { class: "approval-error", role: "alert", hidden: true });
    const controls = el("div", { class: "approval-controls" });
    const card = el(
      "section",
      { class: "approval-card", dataset: { approvalId: approval.id, kind: approval.kind }, "aria-label": title },
      el("h3", { class: "approval-title", text: title }),
      body,
      status,
      error,
      controls,
    );
    return { card, body, status, controls, error, shown: null, runId: state.runId };
  }

  update(view, approval, state) {
    view.runId = state.runId || view.runId;
    view.card.dataset.decision = approval.decision || "pending";
    view.error.hidden = true;
    // The hint says what the buttons do: once they are gone, so is it.
    if (approval.kind === "plan") view.body.hidden = Boolean(approval.decision || state.finished);
    if (approval.decision) {
      view.status.textContent = decidedText(approval);
      view.controls.replaceChildren();
      if (approval.decidedArguments && approval.decision === "approved") {
        // What ran is the changed version: it replaces the proposal on the card, under its own label.
        if (approval.kind !== "plan") view.body.hidden = true;
        view.controls.append(
          el("p", { class: "approval-edited-label", text: "It ran with your changes:" }),
          el("pre", { class: "approval-edited", text: asText(approval.decidedArguments) }),
        );
      }
      return;
    }
    if (state.finished) {
      view.status.textContent = "Not decided: the run ended.";
      view.controls.replaceChildren();
      return;
    }
    view.status.textContent = "Waiting for your decision — the run is paused.";
    this.drawControls(view, approval);
  }

  drawControls(view, approval) {
    const reason = el("input", { type: "text", class: "approval-reason", placeholder: "Reason (optional)", "aria-label": "Reason", maxlength: "2000" });
    const editor = el("textarea", { class: "approval-editor", rows: "6", "aria-label": approval.kind === "plan" ? "Steps (JSON)" : "Arguments (JSON)", hidden: true });
    const approve = el("button", { type: "button", class: "btn btn-primary btn-small approval-approve", text: "Approve" });
    const edit = el("button", { type: "button", class: "btn btn-ghost btn-small approval-edit", text: "Edit" });
    const reject = el("button", { type: "button", class: "btn btn-ghost btn-small approval-reject", text: "Reject" });
    const buttons = [approve, edit, reject];

    edit.addEventListener("click", () => {
      const proposed = approval.kind === "plan" ? planSteps(approval.plan) : approval.arguments || {};
      editor.value = JSON.stringify(proposed, null, 2);
      editor.hidden = false;
      edit.hidden = true;
      approve.textContent = "Approve edited";
      editor.focus();
    });
    approve.addEventListener("click", () => {
      const body = { decision: "approve" };
      if (!editor.hidden) {
        let edited;
        try {
          edited = JSON.parse(editor.value);
        } catch {
          this.showError(view, "That is not valid JSON.");
          return;
        }
        body.arguments = approval.kind === "plan" ? { steps: edited } : edited;
      }
      if (reason.value.trim()) body.reason = reason.value.trim();
      this.decide(view, approval, body, buttons);
    });
    reject.addEventListener("click", () => {
      const body = { decision: "reject" };
      if (reason.value.trim()) body.reason = reason.value.trim();
      this.decide(view, approval, body, buttons);
    });
    view.controls.replaceChildren(editor, reason, el("div", { class: "approval-buttons" }, ...buttons));
  }

  async decide(view, approval, body, buttons) {
    for (const button of buttons) button.disabled = true;
    view.error.hidden = true;
    try {
      await api(`/api/agent/runs/${encodeURIComponent(view.runId)}/approvals/${encodeURIComponent(approval.id)}`, { method: "POST", body });
      // The stream may have brought `approval_result` first: then the card already says who decided.
      if (view.card.dataset.decision === "pending") {
        view.status.textContent = body.decision === "approve" ? "Approved — the run goes on…" : "Rejected — the run goes on…";
      }
    } catch (error) {
      const detail = Object.values(error.fields || {}).flat()[0];
      this.showError(view, detail ? `${error.message} ${detail}` : error.message || "The decision could not be sent.");
      for (const button of buttons) button.disabled = false;
    }
  }

  showError(view, text) {
    view.error.textContent = text;
    view.error.hidden = false;
  }
}
