/* The rename and delete dialogs of a chat (native <dialog>, keyboard and Escape included). */
import { api } from "./transport.js";

export class ChatDialogs {
  /** `titleOf(id)` names a chat; `onRenamed(session)` and `onDeleted(id)` tell the page; `explain(error)` words an error. */
  constructor({ ui, titleOf, onRenamed, onDeleted, onError, explain }) {
    this.ui = ui;
    this.titleOf = titleOf;
    this.onRenamed = onRenamed;
    this.onDeleted = onDeleted;
    this.onError = onError;
    this.explain = explain;
    this.renaming = null;
    this.deleting = null;
    ui.renameForm.addEventListener("submit", (event) => this.saveRename(event));
    ui.renameCancel.addEventListener("click", () => ui.renameDialog.close());
    ui.deleteForm.addEventListener("submit", (event) => this.decideDelete(event));
  }

  rename(sessionId) {
    this.renaming = sessionId;
    this.ui.renameInput.value = this.titleOf(sessionId) || "";
    this.ui.renameError.hidden = true;
    this.ui.renameDialog.showModal();
    this.ui.renameInput.select();
  }

  async saveRename(event) {
    event.preventDefault();
    const sessionId = this.renaming; // the dialog may be closed and opened for another chat while this saves
    const title = this.ui.renameInput.value.trim();
    if (!title) {
      this.ui.renameError.textContent = "The title can't be empty.";
      this.ui.renameError.hidden = false;
      this.ui.renameInput.focus();
      return;
    }
    try {
      const session = await api(`/api/sessions/${sessionId}/`, { method: "PATCH", body: { title } });
      if (this.renaming === sessionId) this.ui.renameDialog.close();
      await this.onRenamed(session);
    } catch (error) {
      if (this.renaming !== sessionId) return;
      this.ui.renameError.textContent = this.explain(error)[0];
      this.ui.renameError.hidden = false;
    }
  }

  // The chat the open delete dialog asks about. The decision is read from the form's `submit`
  // (which names the button pressed) while the dialog is still open, never from its `close` event:
  // that one is queued, so a cancelled dialog's late `close` could arrive after the next one opened.
  delete(sessionId) {
    this.deleting = sessionId;
    this.ui.deleteText.textContent = `“${this.titleOf(sessionId) || "Untitled chat"}” and all its messages and runs will be deleted. This can't be undone.`;
    this.ui.deleteDialog.showModal();
  }

  decideDelete(event) {
    const sessionId = this.deleting;
    this.deleting = null;
    if (event.submitter?.value === "delete" && sessionId) this.confirmDelete(sessionId);
  }

  async confirmDelete(sessionId) {
    try {
      await api(`/api/sessions/${sessionId}/`, { method: "DELETE" });
    } catch (error) {
      if (error.status !== 404) return this.onError(`Couldn't delete the chat: ${error.message}`);
    }
    await this.onDeleted(sessionId);
  }
}
