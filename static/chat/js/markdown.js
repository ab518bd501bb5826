/* Markdown of model text: `marked` (GitHub-flavoured) to HTML, `DOMPurify` to make it safe.
 *
 * Both are vendored under static/vendor/ (versions and licences there).
 * Model text is data, so three layers keep it from running:
 *   1. raw HTML in the markdown is shown as text (marked's `html` renderer
 *      escapes it), images become links (no request leaves for them);
 *   2. DOMPurify keeps only the tags and attributes markdown produces, and
 *      only http(s) and mailto links;
 *   3. the page's Content-Security-Policy allows no inline script.
 * Links open in a new tab with rel="noopener noreferrer".
 *
 * `renderMarkdown` updates a container in place, block by block: blocks
 * whose HTML did not change stay the same nodes, so an answer streamed a
 * few words at a time does not flicker, and an open fold or a selection in
 * an earlier paragraph survives the next words.
 */
import DOMPurify from "../../vendor/dompurify/purify.es.js";
import { Marked } from "../../vendor/marked/marked.esm.js";
import { copyButton, el } from "./dom.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html({ text, block }) {
      return block ? `<p>${escapeHtml(text.trim())}</p>\n` : escapeHtml(text);
    },
    image({ href, text }) {
      return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`;
    },
  },
});

const ALLOWED_TAGS = [
  "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre", "blockquote",
  "ul", "ol", "li", "input", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "sup", "sub",
];
const PURIFY = {
  ALLOWED_TAGS,
  ALLOWED_ATTR: ["href", "title", "start", "type", "checked", "disabled", "class", "align"],
  // Attributes that are not URLs must not be held to the URL rule below (DOMPurify checks every
  // attribute outside its short "URI safe" list against it: align="right" would be dropped).
  ADD_URI_SAFE_ATTR: ["align", "start", "type", "checked", "disabled"],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

DOMPurify.addHook("uponSanitizeAttribute", (node, data) => {
  // Classes only name a code block's language; nothing from the model may borrow the page's classes.
  if (data.attrName === "class") data.keepAttr = node.nodeName === "CODE" && /^language-[\w#+.-]{1,40}$/.test(data.attrValue);
  if (data.attrName === "type") data.keepAttr = node.nodeName === "INPUT" && data.attrValue === "checkbox";
});
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName === "A") {
    if (node.hasAttribute("href")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  } else if (node.nodeName === "INPUT") {
    if (node.getAttribute("type") !== "checkbox") node.remove();
    else node.setAttribute("disabled", "");
  }
});

/** Return model markdown as a sanitized DocumentFragment. */
export function markdownFragment(text) {
  const html = marked.parse(String(text ?? ""), { async: false });
  return DOMPurify.sanitize(html, PURIFY);
}

/** Give code blocks a language label and a copy button; let wide tables scroll on their own. */
function enhance(block) {
  const root = el("div", {}, block);
  // A link whose URL was refused is left as its words, not as an anchor that goes nowhere.
  for (const anchor of root.querySelectorAll("a:not([href])")) anchor.replaceWith(...anchor.childNodes);
  // An autolink <mailto:someone@example.com> shows its address, as a mail client would, not the scheme.
  for (const anchor of root.querySelectorAll('a[href^="mailto:" i]')) {
    const href = anchor.getAttribute("href");
    if (anchor.textContent === href) anchor.textContent = href.slice("mailto:".length);
  }
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    const last = (code || pre).lastChild;
    if (last?.nodeType === Node.TEXT_NODE && last.data.endsWith("\n")) last.data = last.data.slice(0, -1);
    const lang = (code?.className.match(/language-([\w#+.-]+)/) || [])[1] || "";
    const wrapper = el("div", { class: "code-block", dataset: { lang: lang || "text" } });
    pre.replaceWith(wrapper);
    wrapper.append(
      el(
        "div",
        { class: "code-head" },
        el("span", { class: "code-lang", text: lang || "text" }),
        copyButton(() => (code || pre).textContent, { className: "copy-btn code-copy", title: "Copy the code" }),
      ),
      pre,
    );
  }
  for (const table of root.querySelectorAll("table")) {
    const wrap = el("div", { class: "table-wrap" });
    table.replaceWith(wrap);
    wrap.append(table);
  }
  return root.firstChild;
}

function keyOf(node) {
  return node.nodeType === Node.ELEMENT_NODE ? node.outerHTML : `#text:${node.textContent}`;
}

/** Render markdown into a container, replacing only the top-level blocks that changed. */
export function renderMarkdown(container, text) {
  const fresh = [...markdownFragment(text).childNodes].filter(
    (node) => node.nodeType === Node.ELEMENT_NODE || (node.nodeType === Node.TEXT_NODE && node.textContent.trim()),
  );
  const current = [...container.childNodes];
  fresh.forEach((node, index) => {
    const key = keyOf(node);
    const existing = current[index];
    if (existing && existing.mdKey === key) return;
    const block = enhance(node);
    block.mdKey = key;
    if (existing) existing.replaceWith(block);
    else container.append(block);
  });
  for (const extra of current.slice(fresh.length)) extra.remove();
}
