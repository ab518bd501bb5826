/* The message box: Enter to send, its draft kept per tab, and its length limit shown before it is reached.
 *
 * The textarea has no `maxlength`: a paste longer than the limit is kept
 * whole (never cut silently), the counter says by how much it is over, and
 * Send stays off until it fits.
 */
import { formatNumber, load, store } from "./dom.js";

const DRAFT_KEY = "chat.draft";
// The counter appears once the text passes this share of the limit.
const SHOW_AT = 0.8;

/** The length the server checks: characters (code points) after trimming. */
export const messageLength = (text) => [...text.trim()].length;

export class Composer {
  constructor({ ui, maxChars, onSend, onStop }) {
    this.ui = ui;
    this.maxChars = maxChars;
    this.running = false;
    this.sessionId = null;
    ui.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      onSend(this.ui.input.value);
    });
    ui.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        onSend(this.ui.input.value);
      }
    });
    ui.input.addEventListener("input", () => {
      this.changed();
      this.saveDraft();
    });
    ui.stop.addEventListener("click", onStop);
    this.changed();
  }

  get value() {
    return this.ui.input.value;
  }

  /** Put text in the box; the draft follows unless `draft` is false (text offered back, not typed). */
  set(text, { draft = true } = {}) {
    this.ui.input.value = text;
    this.changed();
    if (draft) this.saveDraft();
  }

  focus() {
    this.ui.input.focus();
  }

  isOver(text = this.ui.input.value) {
    return messageLength(text) > this.maxChars;
  }

  changed() {
    this.autosize();
    this.drawCounter();
  }

  autosize() {
    const input = this.ui.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
  }

  drawCounter() {
    const length = messageLength(this.ui.input.value);
    const counter = this.ui.counter;
    const over = length - this.maxChars;
    counter.hidden = length < this.maxChars * SHOW_AT;
    counter.classList.toggle("is-over", over > 0);
    counter.textContent =
      over > 0
        ? `${formatNumber(length)} / ${formatNumber(this.maxChars)} — ${formatNumber(over)} over the limit`
        : `${formatNumber(length)} / ${formatNumber(this.maxChars)}`;
    this.ui.input.setAttribute("aria-invalid", over > 0 ? "true" : "false");
    this.drawButtons();
  }

  /** While a run is live, Stop takes Send's place; Send is off while the text is over the limit. */
  setRunning(running, { canStop = true } = {}) {
    this.running = running;
    this.ui.stop.hidden = !running;
    this.ui.stop.disabled = running && !canStop;
    this.drawButtons();
  }

  drawButtons() {
    this.ui.send.hidden = this.running;
    this.ui.send.disabled = this.running || this.isOver();
  }

  // --- draft (sessionStorage, per tab) ---------------------------------------------

  setSession(sessionId) {
    this.sessionId = sessionId;
  }

  saveDraft(text = this.ui.input.value) {
    store(DRAFT_KEY, text ? { text, sessionId: this.sessionId } : null);
  }

  restoreDraft() {
    const draft = load(DRAFT_KEY);
    if (draft?.text && !this.ui.input.value && (draft.sessionId || null) === this.sessionId) this.set(draft.text);
  }
}
