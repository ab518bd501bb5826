"""The result of a model call: what the model said, the tool calls it asked for, and what it used."""

from dataclasses import dataclass

from agents.llm.usage import Usage

__all__ = ["LLMResult", "ToolCall", "Usage"]


@dataclass
class ToolCall:
    """A tool call the model asked for."""

    id: str
    name: str
    arguments: str  # raw JSON text as the model sent it


@dataclass
class LLMResult:
    """What one call returned: the text, the tool calls, the usage, and how long it took."""

    content: str
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str | None
    latency_ms: int
    model: str
    first_token_ms: int | None = None  # from the call's start to its first text or tool-call delta
