/* A person's message in the conversation: its text, Copy, and Edit (send it changed, as a new turn). */
import { copyButton, el, icon } from "./dom.js";

/**
 * A person's message, with Edit (resend changed as a new turn) and Copy. `repeat`: the same words as
 * the turn before (Regenerate asks again): drawn as a slim "Asked again" line, not a second bubble.
 */
export function userMessage(text, { pending = false, repeat = false, onSend }) {
  const bubble = repeat
    ? el("div", { class: "bubble bubble-repeat", title: text }, icon("retry", 14), el("span", { class: "repeat-text", text }))
    : el("div", { class: "bubble", text });
  const classes = `message message-user${pending ? " is-pending" : ""}${repeat ? " is-repeat" : ""}`;
  const node = el(
    "article",
    { class: classes, "aria-label": repeat ? "You asked again" : "You" },
    el("div", { class: "message-role", "aria-hidden": "true", text: repeat ? "Asked again" : "You" }),
    bubble,
  );
  const tools = el(
    "div",
    { class: "message-tools" },
    copyButton(() => text, { className: "icon-btn copy-message", title: "Copy the message", label: "Copy" }),
    el("button", { type: "button", class: "icon-btn edit-message", title: "Edit and send again", "aria-label": "Edit and send again", onclick: () => editMessage(node, text, onSend) }, icon("edit", 16)),
  );
  node.append(tools);
  return node;
}

/**
 * Turn a sent message into a box to change it. `onSend(text)` sends the change as a new turn (the old
 * one stays) and resolves to whether the server took it; the box closes only then.
 */
function editMessage(node, text, onSend) {
  if (node.querySelector(".edit-form")) return;
  const box = el("textarea", { class: "edit-input", rows: "3", "aria-label": "Edit your message" });
  box.value = text;
  const form = el(
    "form",
    { class: "edit-form" },
    box,
    el(
      "div",
      { class: "edit-actions" },
      el("span", { class: "edit-hint muted", text: "Sends as a new message; this one stays." }),
      el("button", { type: "button", class: "btn btn-ghost btn-small edit-cancel", text: "Cancel" }),
      el("button", { type: "submit", class: "btn btn-primary btn-small edit-send", text: "Send" }),
    ),
  );
  const close = () => {
    form.remove();
    node.classList.remove("is-editing");
  };
  form.querySelector(".edit-cancel").addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await onSend(box.value)) close();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  node.classList.add("is-editing");
  node.append(form);
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}
