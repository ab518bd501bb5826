"""AG-UI events as SSE frames with our ids, and resuming a stream exactly where its client was.

Frame ids: a stored event that becomes one frame has ``id: <seq>``; one that
becomes several has ``<seq>.1``, ``<seq>.2``, … and ``<seq>`` on its last, so
``Last-Event-ID`` resumes exactly. A stream that resumes translates the
stored events before its cursor without sending them (to know what the
client has open, ``OpenState``), then starts with ``RUN_STARTED`` and reopens
what was open at the cursor (those frames carry the cursor's id).
"""

from __future__ import annotations

import json
import re

from ag_ui.core import (
    PROTOCOL_VERSION,
    BaseEvent,
    ReasoningEndEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    SubagentErrorEvent,
    SubagentFinishedEvent,
    SubagentStartedEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
)

from agents.http.agui_events import AgUiTranslator

# Last-Event-ID of an AG-UI stream: <seq> or <seq>.<frame>.
CURSOR = re.compile(r"(?P<seq>[0-9]{1,10})(?:\.(?P<frame>[0-9]{1,4}))?")


def sse(event_id: str, event: BaseEvent) -> bytes:
    """Return one AG-UI event as an SSE frame with our id (the JSON on one line, non-ASCII escaped)."""
    body = json.dumps(event.model_dump(mode="json", by_alias=True), separators=(",", ":"))
    return f"id: {event_id}\ndata: {body}\n\n".encode()


class OpenState:
    """What a client has open after the AG-UI events it has seen, and the events that reopen it."""

    def __init__(self, *, run_id: str, thread_id: str):
        self.run_id, self.thread_id = run_id, thread_id
        self.running = False
        self.steps: dict[str, None] = {}
        self.subagents: dict[str, SubagentStartedEvent] = {}
        self.texts: dict[str, str | None] = {}
        self.spans: dict[str, str | None] = {}
        self.reasonings: dict[str, str | None] = {}
        self.tools: dict[str, ToolCallStartEvent] = {}

    def apply(self, event: BaseEvent) -> None:
        sub = getattr(event, "subagent_run_id", None)
        match event:
            case RunStartedEvent():
                self.running = True
            case RunFinishedEvent() | RunErrorEvent():
                self.__init__(run_id=self.run_id, thread_id=self.thread_id)
            case StepStartedEvent():
                self.steps[event.step_name] = None
            case StepFinishedEvent():
                self.steps.pop(event.step_name, None)
            case SubagentStartedEvent():
                self.subagents[event.subagent_run_id] = event
            case SubagentFinishedEvent() | SubagentErrorEvent():
                self.subagents.pop(event.subagent_run_id, None)
            case TextMessageStartEvent():
                self.texts[event.message_id] = sub
            case TextMessageEndEvent():
                self.texts.pop(event.message_id, None)
            case ReasoningStartEvent():
                self.spans[event.message_id] = sub
            case ReasoningEndEvent():
                self.spans.pop(event.message_id, None)
            case ReasoningMessageStartEvent():
                self.reasonings[event.message_id] = sub
            case ReasoningMessageEndEvent():
                self.reasonings.pop(event.message_id, None)
            case ToolCallStartEvent():
                self.tools[event.tool_call_id] = event
            case ToolCallEndEvent():
                self.tools.pop(event.tool_call_id, None)

    def reopen(self) -> list[BaseEvent]:
        """Return what a new connection sends first so the client's stream is valid from here on."""
        if not self.running:
            return []
        return [
            RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id, protocol_version=PROTOCOL_VERSION),
            *(StepStartedEvent(step_name=name) for name in self.steps),
            *self.subagents.values(),
            *(
                TextMessageStartEvent(message_id=message_id, role="assistant", subagent_run_id=sub)
                for message_id, sub in self.texts.items()
            ),
            *(
                ReasoningStartEvent(message_id=message_id, subagent_run_id=sub)
                for message_id, sub in self.spans.items()
            ),
            *(
                ReasoningMessageStartEvent(message_id=message_id, subagent_run_id=sub)
                for message_id, sub in self.reasonings.items()
            ),
            *self.tools.values(),
        ]


class AgUiEncoder:
    """Encode batches of a run's stored frames as AG-UI SSE; the stream ends at RUN_FINISHED or RUN_ERROR.

    ``cursor`` (seq, frame) is what the client has: the frames up to it are
    translated but not sent; the first frame after it is preceded by what
    reopens the client's state (``OpenState``), carrying the cursor's id.
    """

    def __init__(self, *, run_id: str, thread_id: str, cursor: tuple[int, int] = (0, 0)):
        self.translator = AgUiTranslator(run_id=run_id, thread_id=thread_id)
        self.client = OpenState(run_id=run_id, thread_id=thread_id)
        self.cursor = cursor
        self.reopening = cursor != (0, 0)

    def __call__(self, batch: list[tuple[int, str, str]]) -> tuple[bytes, int, bool]:
        frames: list[bytes] = []
        last_seq, over = 0, False
        cut_seq, cut_frame = self.cursor
        for seq, _type, text in batch:
            last_seq = seq
            events = self.translator.translate(json.loads(text))
            for index, item in enumerate(events, start=1):
                if seq < cut_seq or (seq == cut_seq and (cut_frame == 0 or index <= cut_frame)):
                    self.client.apply(item)  # the client has it
                    continue
                if self.reopening:
                    self.reopening = False
                    for again in self.client.reopen():
                        self.client.apply(again)
                        frames.append(sse(cursor_id(self.cursor), again))
                self.client.apply(item)
                frames.append(sse(str(seq) if index == len(events) else f"{seq}.{index}", item))
                if isinstance(item, (RunFinishedEvent, RunErrorEvent)):
                    over = True
            if over:
                break
        return b"".join(frames), last_seq, over


def cursor_id(cursor: tuple[int, int]) -> str:
    seq, frame = cursor
    return f"{seq}.{frame}" if frame else str(seq)


def parse_cursor(value: str) -> tuple[int, int] | None:
    """Return (seq, frame) of an AG-UI stream's Last-Event-ID, or None when it is not one."""
    match = CURSOR.fullmatch(value)
    return (int(match["seq"]), int(match["frame"] or 0)) if match else None
