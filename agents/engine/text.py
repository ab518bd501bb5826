"""An agent's streamed text: deltas coalesced into `text` and `thinking` events, the whole text kept."""

import time

from agents import events
from agents.events import catalogue
from agents.models import Agent, Run
from agents.runs.connections import give_back_connection

# Text deltas are coalesced into one `text` event per this many seconds (or
# TEXT_FLUSH_CHARS characters), so the database is not written per token.
TEXT_FLUSH_SECONDS = 0.05
TEXT_FLUSH_CHARS = 512


class TextStream:
    """Coalesce an agent's answer deltas into `text` events and keep the whole text."""

    def __init__(self, run: Run, agent: Agent):
        self.run = run
        self.agent = agent
        self.parts: list[str] = []
        self._pending: list[str] = []
        self._pending_chars = 0
        self._last_flush = 0.0
        self.started = False

    def __call__(self, delta: str) -> None:
        if not delta:
            return
        self.started = True
        self.parts.append(delta)
        self._pending.append(delta)
        self._pending_chars += len(delta)
        now = time.monotonic()
        if now - self._last_flush >= TEXT_FLUSH_SECONDS or self._pending_chars >= TEXT_FLUSH_CHARS:
            self.flush()

    def flush(self) -> None:
        """Emit what is pending as one `text` event."""
        pending = self.take()
        if not pending:
            return
        self._last_flush = time.monotonic()
        events.emit(self.run, *pending)
        give_back_connection()  # the model stream goes on

    def take(self) -> list[catalogue.Event]:
        """Return the pending text as a `text` event (none when nothing is pending) and forget it."""
        if not self._pending:
            return []
        delta = "".join(self._pending)
        self._pending, self._pending_chars = [], 0
        return [self.event(delta)]

    def event(self, delta: str) -> catalogue.Event:
        return catalogue.TextEvent(delta=delta, agent_id=str(self.agent.pk))

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ThinkingStream(TextStream):
    """Coalesce an agent's reasoning and progress text into `thinking` events (never part of the answer)."""

    def event(self, delta: str) -> catalogue.Event:
        return catalogue.ThinkingEvent(delta=delta, agent_id=str(self.agent.pk), agent_kind=self.agent.role)
