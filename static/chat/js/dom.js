/* Small DOM and formatting helpers shared by the chat's modules. */

/** Build an element: attributes (class, text, dataset, on<event>, others as attributes) and children. */
export function el(tag, attrs = {}, ...children) {
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
  copy: ["M9 9h11v11H9z", "M5 15H4V4h11v1"],
  check: ["M5 12l5 5 9-10"],
  retry: ["M4 12a8 8 0 0 1 14-5.3", "M18 3v4h-4", "M20 12a8 8 0 0 1-14 5.3", "M6 21v-4h4"],
  down: ["M12 5v14", "M6 13l6 6 6-6"],
  search: ["M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14z", "M20 20l-4-4"],
};

export function icon(name, size = 18) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const attrs = {
    viewBox: "0 0 24 24",
    width: String(size),
    height: String(size),
    fill: "none",
    stroke: "currentColor",
    "stroke-width": "2",
    "stroke-linecap": "round",
    "stroke-linejoin": "round",
    "aria-hidden": "true",
    focusable: "false",
  };
  for (const [key, value] of Object.entries(attrs)) svg.setAttribute(key, value);
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** Fill every `[data-icon]` slot of the page with its icon. */
export function drawIcons(root = document) {
  for (const slot of root.querySelectorAll("[data-icon]")) slot.replaceChildren(icon(slot.dataset.icon));
}

export function uuid4() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Resolve after `ms`, or at once when the signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
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
}

// sessionStorage: per tab, so two tabs keep their own drafts and followed runs.
export function store(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage full or disabled: the feature degrades, the chat still works */
  }
}

export function load(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key));
  } catch {
    return null;
  }
}

const numberFormat = new Intl.NumberFormat();
export const formatNumber = (n) => numberFormat.format(n || 0);
export const formatTokens = (n) => `${formatNumber(n)} token${n === 1 ? "" : "s"}`;
export const formatDuration = (ms) => (ms >= 10000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`);

export function relativeTime(iso, now = Date.now()) {
  const then = new Date(iso);
  const seconds = (now - then.getTime()) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return then.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

/** Return a value as readable text: JSON (also JSON sent as a string, like tool arguments) is indented. */
export function asText(value) {
  if (typeof value === "string") {
    if (!/^\s*[[{]/.test(value)) return value;
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  if (value === null || value === undefined) return "";
  return JSON.stringify(value, null, 2);
}

/** Copy text to the clipboard; show "Copied" on the button for a moment. */
export async function copyText(button, text) {
  const label = button.querySelector(".copy-label");
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    if (label) label.textContent = "Copy failed";
    return false;
  }
  button.dataset.copied = "true";
  if (label) label.textContent = "Copied";
  setTimeout(() => {
    delete button.dataset.copied;
    if (label) label.textContent = "Copy";
  }, 1500);
  return true;
}

/** A small "Copy" button that copies what `text()` returns when pressed. */
export function copyButton(text, { label = "Copy", className = "copy-btn", title = "Copy to the clipboard" } = {}) {
  const button = el("button", { type: "button", class: className, title }, icon("copy", 14), el("span", { class: "copy-label", text: label }));
  button.addEventListener("click", () => copyText(button, text()));
  return button;
}
