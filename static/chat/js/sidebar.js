/* The sidebar: the person's chats grouped by date, a search over them, and the phone drawer. */
import { groupByDate } from "./dates.js";
import { el, icon, relativeTime } from "./dom.js";
import { api } from "./transport.js";

const PAGE = "/api/sessions/?page_size=50";
const SEARCH_DELAY_MS = 250;

export class Sidebar {
  /** `onOpen(id)`, `onRename(id)`, `onDelete(id)`: what the page does when a chat's buttons are pressed. */
  constructor({ ui, onOpen, onRename, onDelete, onError }) {
    this.ui = ui;
    this.onOpen = onOpen;
    this.onRename = onRename;
    this.onDelete = onDelete;
    this.onError = onError;
    this.sessions = new Map(); // id -> session as listed
    this.order = [];
    this.next = null;
    this.current = null;
    this.query = "";
    this.refreshing = null;
    this.again = false;
    this.searchTimer = 0;

    ui.moreSessions.addEventListener("click", () => this.more());
    ui.search.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.search(ui.search.value), SEARCH_DELAY_MS);
    });
    ui.search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && ui.search.value) {
        event.stopPropagation();
        ui.search.value = "";
        this.search("");
      }
    });
    ui.openSidebar.addEventListener("click", () => this.openDrawer());
    ui.closeSidebar.addEventListener("click", () => {
      this.closeDrawer();
      ui.openSidebar.focus();
    });
    ui.backdrop.addEventListener("click", () => this.closeDrawer());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.isDrawerOpen()) {
        this.closeDrawer();
        ui.openSidebar.focus();
      }
    });
  }

  title(sessionId) {
    const session = this.sessions.get(sessionId);
    return session ? session.title || "Untitled chat" : null;
  }

  url() {
    return this.query ? `${PAGE}&search=${encodeURIComponent(this.query)}` : PAGE;
  }

  /** Read the list again; one read at a time, and one more afterwards if asked meanwhile (never left stale). */
  refresh() {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        const query = this.query;
        try {
          const page = await api(this.url());
          if (query !== this.query) {
            this.again = true; // the search changed while this was read
            continue;
          }
          this.next = page.next;
          this.draw(page.results);
        } catch (error) {
          this.onError?.(error);
        }
      } while (this.again);
      this.refreshing = null;
    })();
    return this.refreshing;
  }

  search(query) {
    const cleaned = query.trim();
    if (cleaned === this.query) return this.refreshing;
    this.query = cleaned;
    return this.refresh();
  }

  async more() {
    if (!this.next) return;
    const url = new URL(this.next, location.href);
    const page = await api(url.pathname + url.search);
    this.next = page.next;
    this.draw(page.results.filter((s) => !this.sessions.has(s.id)), { append: true });
  }

  draw(sessions, { append = false } = {}) {
    if (!append) {
      this.sessions.clear();
      this.order = [];
    }
    for (const session of sessions) {
      this.sessions.set(session.id, session);
      this.order.push(session.id);
    }
    const groups = groupByDate(
      this.order.map((id) => this.sessions.get(id)),
      (session) => session.updated_at,
    );
    this.ui.sessionList.replaceChildren(
      ...groups.map(([label, members]) =>
        el(
          "section",
          { class: "session-group", "aria-label": label },
          el("h2", { class: "session-group-title", text: label }),
          el("ul", { class: "session-list" }, ...members.map((session) => this.item(session))),
        ),
      ),
    );
    const empty = this.sessions.size === 0;
    this.ui.sessionsEmpty.hidden = !empty;
    this.ui.sessionsEmpty.textContent = this.query ? `No chats match “${this.query}”.` : "No chats yet. Ask something to start one.";
    this.ui.moreSessions.hidden = !this.next;
  }

  item(session) {
    const title = session.title || "Untitled chat";
    const count = `${session.message_count} message${session.message_count === 1 ? "" : "s"}`;
    const current = session.id === this.current;
    return el(
      "li",
      { class: `session${current ? " is-current" : ""}`, dataset: { sessionId: session.id } },
      el(
        "button",
        { type: "button", class: "session-open", title, "aria-current": current ? "page" : null, onclick: () => this.onOpen(session.id) },
        el("span", { class: "session-title", text: title }),
        el("span", { class: "session-meta", text: `${relativeTime(session.updated_at)} · ${count}` }),
      ),
      el(
        "div",
        { class: "session-actions" },
        el("button", { type: "button", class: "icon-btn", "aria-label": `Rename “${title}”`, title: "Rename", onclick: () => this.onRename(session.id) }, icon("edit")),
        el("button", { type: "button", class: "icon-btn icon-danger", "aria-label": `Delete “${title}”`, title: "Delete", onclick: () => this.onDelete(session.id) }, icon("trash")),
      ),
    );
  }

  markCurrent(sessionId) {
    this.current = sessionId;
    for (const item of this.ui.sessionList.querySelectorAll(".session")) {
      const isCurrent = item.dataset.sessionId === sessionId;
      item.classList.toggle("is-current", isCurrent);
      const button = item.querySelector(".session-open");
      if (isCurrent) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
    }
  }

  focusItem(sessionId) {
    this.ui.sessionList.querySelector(`[data-session-id="${CSS.escape(sessionId)}"] .session-open`)?.focus();
  }

  // On a phone the sidebar is a drawer over the chat: while it is open the chat behind is inert,
  // so Tab stays in the drawer and screen readers do not wander behind it.
  isDrawerOpen() {
    return this.ui.app.classList.contains("sidebar-open");
  }

  openDrawer() {
    this.ui.app.classList.add("sidebar-open");
    this.ui.backdrop.hidden = false;
    this.ui.main.inert = true;
    this.ui.openSidebar.setAttribute("aria-expanded", "true");
    this.ui.newChat.focus();
  }

  closeDrawer() {
    if (!this.isDrawerOpen()) return;
    this.ui.app.classList.remove("sidebar-open");
    this.ui.backdrop.hidden = true;
    this.ui.main.inert = false;
    this.ui.openSidebar.setAttribute("aria-expanded", "false");
  }
}
