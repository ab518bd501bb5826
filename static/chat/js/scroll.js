/* A view that follows: the conversation sticks to its bottom while new content arrives,
 * unless the person scrolled up; then a "Jump to latest" button offers the way back.
 *
 * Growth is seen by a ResizeObserver on the content, so a plan card, several
 * tool calls or a long code block arriving at once are followed like text;
 * the scroll happens before the frame is painted, so the last line is never
 * shown half-hidden.
 *
 * Letting go is decided by the person's own input (a wheel or a finger moving
 * the view up, PageUp, Home, an arrow key), at once, before the browser's
 * smooth scroll has moved a pixel, so the next growth never yanks them back.
 * Scroll events alone cannot say it: one may arrive a frame after the scroll
 * that caused it, when new content already moved the bottom further. A
 * scrollbar dragged up is seen as the view being above where the follower
 * last put it. Reaching the bottom again, by any means, sticks again.
 */

// Within this distance of the bottom counts as "at the bottom" (rounding, sub-pixel layouts).
const SLACK_PX = 8;
const UP_KEYS = new Set(["PageUp", "ArrowUp", "Home"]);

export class Follower {
  constructor({ box, content, button }) {
    this.box = box;
    this.button = button;
    this.stuck = true;
    this.live = false;
    this.pinnedTop = 0; // where the follower last put the view
    this.lastTop = 0;
    this.touchY = null;
    box.addEventListener("scroll", () => this.onScroll(), { passive: true });
    box.addEventListener("wheel", (event) => event.deltaY < 0 && this.letGo(), { passive: true });
    box.addEventListener("touchstart", (event) => (this.touchY = event.touches[0]?.clientY ?? null), { passive: true });
    box.addEventListener(
      "touchmove",
      (event) => {
        const y = event.touches[0]?.clientY;
        if (this.touchY !== null && y > this.touchY + 2) this.letGo(); // finger down: content moves up
        this.touchY = y ?? null;
      },
      { passive: true },
    );
    box.addEventListener("keydown", (event) => {
      if (UP_KEYS.has(event.key) || (event.key === " " && event.shiftKey)) this.letGo();
    });
    const observer = new ResizeObserver(() => this.onResize());
    observer.observe(content);
    observer.observe(box);
    button.addEventListener("click", () => this.jump());
    // Opening a fold while no run streams is reading, not waiting for news: it must not scroll away.
    content.addEventListener(
      "click",
      (event) => {
        if (!this.live && event.target.closest("summary")) this.letGo();
      },
      true,
    );
  }

  distance() {
    return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight;
  }

  /** The person moved the view up: stop following (if there is anywhere to go). */
  letGo() {
    if (this.box.scrollHeight > this.box.clientHeight) this.stuck = false;
  }

  onScroll() {
    const top = this.box.scrollTop;
    const goingDown = top > this.lastTop;
    this.lastTop = top;
    if (this.distance() <= SLACK_PX) {
      // At the bottom: stick, unless this is the first step of a scroll up the person just began.
      if (this.stuck || goingDown || top >= this.pinnedTop) this.stuck = true;
      if (this.stuck) this.pinnedTop = top;
    } else if (top < this.pinnedTop - SLACK_PX) {
      this.stuck = false; // above where the follower put it: a scrollbar drag, a jump to a fold
    }
    this.showButton();
  }

  onResize() {
    if (this.stuck) this.toBottom();
    this.showButton();
  }

  showButton() {
    this.button.hidden = this.distance() <= SLACK_PX || (this.stuck && this.live);
  }

  toBottom() {
    this.box.scrollTop = this.box.scrollHeight;
    this.pinnedTop = this.box.scrollTop;
    this.lastTop = this.pinnedTop;
  }

  /** Follow new content from now on (a run started), starting at the bottom. */
  follow() {
    this.live = true;
    this.jump();
  }

  /** Stop following (the run ended); the view stays where it is. */
  settle() {
    this.live = false;
    this.showButton();
  }

  /** Go to the latest content and stick there. */
  jump() {
    this.stuck = true;
    this.toBottom();
    this.showButton();
  }
}
