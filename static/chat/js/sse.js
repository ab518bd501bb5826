/* A Server-Sent Events decoder for fetch() bodies (EventSource cannot POST).
 *
 * SseDecoder is pure: feed it text as it arrives, in any pieces, and it
 * returns the complete frames, each `{id, event, data}` as the SSE spec
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html) parses
 * them: lines end with CRLF, LF or CR; a frame ends at an empty line;
 * `data` lines join with "\n"; comment lines (":" first) are dropped;
 * a frame with no data line is not an event.
 */

export class SseDecoder {
  constructor() {
    this.buffer = "";
    this.pendingCR = false;
    this.reset();
  }

  reset() {
    this.data = [];
    this.id = null;
    this.event = null;
  }

  /** Take the next piece of the body; return the frames it completed. */
  feed(text) {
    let chunk = text;
    // A CR at the very end may be the first half of a CRLF split across pieces.
    if (this.pendingCR) {
      if (chunk.startsWith("\n")) chunk = chunk.slice(1);
      this.pendingCR = false;
    }
    let tail = "";
    if (chunk.endsWith("\r")) {
      this.pendingCR = true;
      chunk = chunk.slice(0, -1);
      tail = "\n";
    }
    this.buffer += chunk.replace(/\r\n?/g, "\n") + tail;
    const frames = [];
    let newline;
    while ((newline = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      const frame = this.line(line);
      if (frame) frames.push(frame);
    }
    return frames;
  }

  /** The body ended: a last frame without its empty line is not dispatched (as the spec says). */
  end() {
    this.buffer = "";
    this.reset();
    return [];
  }

  line(line) {
    if (line === "") {
      const frame = this.data.length ? { id: this.id, event: this.event || "message", data: this.data.join("\n") } : null;
      this.reset();
      return frame;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "event") this.event = value;
    return null;
  }
}

/** Parse a frame's data as one JSON event; return null for anything else. */
export function parseEvent(frame) {
  try {
    const event = JSON.parse(frame.data);
    return event && typeof event === "object" && typeof event.type === "string" ? event : null;
  } catch {
    return null;
  }
}

/** Read an SSE response body to its end, calling onEvent for each JSON event in order. */
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const text = new TextDecoder();
  const decoder = new SseDecoder();
  const deliver = (frames) => {
    for (const frame of frames) {
      const event = parseEvent(frame);
      if (event) onEvent(event);
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      deliver(decoder.feed(text.decode(value, { stream: true })));
    }
    deliver(decoder.feed(text.decode()));
    deliver(decoder.end());
  } finally {
    reader.releaseLock();
  }
}
