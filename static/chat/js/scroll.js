/* A view that follows: the conversation sticks to its bottom while new content arrives,
 * unless the person scrolled up; then a "Jump to latest" button offers the way back.
 *
 * Growth is seen by a ResizeObserver on the content, so a plan card, several
 * tool calls or a long code block arriving at once are followed like text;
 * the scroll happens before the frame is painted, so the last line is never
 * shown half-hidden. Whether the view is stuck is decided only by scroll
 * events: the browser dispatches them before resize observations in a
 * frame, so a person's scroll up always wins over the next growth.
 */

// Within this distance of the bottom counts as "at the bottom" (rounding, sub-pixel layouts).
const SLACK_PX = 8;

export class Follower {
  constructor({ box, content, button }) {
    this.box = box;
    this.button = button;
    this.stuck = true;
    this.live = false;
    box.addEventListener("scroll", () => this.onScroll(), { passive: true });
    const observer = new ResizeObserver(() => this.onResize());
    observer.observe(content);
    observer.observe(box);
    button.addEventListener("click", () => this.jump());
    // Opening a fold while no run streams is reading, not waiting for news: it must not scroll away.
    content.addEventListener(
      "click",
      (event) => {
        if (!this.live && event.target.closest("summary, .reveal")) this.stuck = false;
      },
      true,
    );
  }

  distance() {
    return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight;
  }

  onScroll() {
    this.stuck = this.distance() <= SLACK_PX;
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
