"""Calls to the model gateway against the stub model, shared by the gateway's tests."""

from agents.llm import gateway as llm

TOOLS = [
    {"type": "function", "function": {"name": "calculate", "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "get_current_time", "parameters": {"type": "object", "properties": {}}}},
]
USER = [{"role": "user", "content": "Say something"}]


def call(**kwargs):
    """Call chat_stream with defaults; return (result, deltas, retries)."""
    deltas, retries = [], []
    result = llm.chat_stream(
        model=kwargs.pop("model", "stub-model"),
        messages=kwargs.pop("messages", USER),
        on_text=deltas.append,
        on_retry=lambda attempt, error, delay: retries.append((attempt, error.code, delay)),
        **kwargs,
    )
    return result, deltas, retries


def chunk(delta: dict, finish_reason=None) -> dict:
    """Return a raw ``chat.completion.chunk`` for the stub model to send."""
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}
