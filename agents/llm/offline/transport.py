"""The offline model on the wire: an in-process Chat Completions server, reached through the real SDK.

``OfflineTransport`` is an in-process ``httpx2`` transport that answers
``POST /v1/chat/completions`` in the Chat Completions wire format (SSE
``chat.completion.chunk`` objects, tool calls split into fragments, a usage
chunk, ``data: [DONE]``), so ``agents.llm.gateway`` drives it through the very
``openai`` client it uses for a real server.

What it says is decided in ``agents.llm.offline.respond``; this module only
puts it on the wire. Its usage is the exact count of its own tokenizer,
``agents.llm.tokens.count_tokens`` (words and punctuation).
"""

import hashlib
import json
import re
import time

import httpx2
from django.conf import settings

from agents.llm.offline.messages import Call, Say
from agents.llm.offline.respond import respond
from agents.llm.tokens import count_prompt_tokens, count_tokens

CREATED = 1_700_000_000  # a fixed timestamp keeps the output byte-for-byte deterministic
WORDS_PER_CHUNK = 3
ARGUMENT_FRAGMENTS = 4


def _completion_id(body: bytes) -> str:
    return "chatcmpl-offline-" + hashlib.sha256(body).hexdigest()[:24]


def _call_id(completion_id: str, index: int) -> str:
    return "call_" + hashlib.sha256(f"{completion_id}:{index}".encode()).hexdigest()[:24]


def _pieces(value: str, size: int) -> list[str]:
    return [value[start : start + size] for start in range(0, len(value), size)] or [""]


def reply_chunks(reply: Say | Call, *, completion_id: str, model: str) -> tuple[list[dict], int]:
    """Return the ``chat.completion.chunk`` objects of a reply and its completion tokens."""

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [choice],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    if isinstance(reply, Say):
        words = re.findall(r"\S+\s*", reply.text)
        for start in range(0, len(words), WORDS_PER_CHUNK):
            chunks.append(chunk({"content": "".join(words[start : start + WORDS_PER_CHUNK])}))
        chunks.append(chunk({}, "stop"))
        return chunks, count_tokens(reply.text)

    completion_tokens = count_tokens(reply.text)
    words = re.findall(r"\S+\s*", reply.text)
    for start in range(0, len(words), WORDS_PER_CHUNK):
        chunks.append(chunk({"content": "".join(words[start : start + WORDS_PER_CHUNK])}))
    for index, (name, arguments) in enumerate(reply.calls):
        raw = json.dumps(arguments, ensure_ascii=False)
        completion_tokens += count_tokens(name) + count_tokens(raw)
        head = {"index": index, "id": _call_id(completion_id, index), "type": "function"}
        chunks.append(chunk({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}))
        for fragment in _pieces(raw, -(-len(raw) // ARGUMENT_FRAGMENTS)):
            chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
    chunks.append(chunk({}, "tool_calls"))
    return chunks, completion_tokens


def _completion(reply: Say | Call, *, completion_id: str, model: str, usage: dict) -> dict:
    """Return the non-streamed ``chat.completion`` of a reply."""
    message: dict = {"role": "assistant", "content": reply.text or None}
    if isinstance(reply, Call):
        message["tool_calls"] = [
            {
                "id": _call_id(completion_id, index),
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
            }
            for index, (name, arguments) in enumerate(reply.calls)
        ]
    finish_reason = "stop" if isinstance(reply, Say) else "tool_calls"
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage,
    }


class _EventStream(httpx2.SyncByteStream):
    """Yield SSE frames, pausing ``delay`` seconds before each content frame."""

    def __init__(self, frames: list[bytes], delay: float):
        self.frames = frames
        self.delay = delay

    def __iter__(self):
        for position, frame in enumerate(self.frames):
            if self.delay and 0 < position < len(self.frames) - 2:
                time.sleep(self.delay)
            yield frame


# The model that answers, as a real server names itself in its replies (whatever name it was asked
# for): stored calls and the admin then say the offline model answered, not the configured name.
OFFLINE_MODEL_NAME = "offline"


def _sse(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


def _error(status: int, message: str, error_type: str = "invalid_request_error") -> httpx2.Response:
    return httpx2.Response(status, json={"error": {"message": message, "type": error_type, "code": None}})


class OfflineTransport(httpx2.BaseTransport):
    """An in-process Chat Completions server for ``httpx2.Client(transport=...)``."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer one request the way an OpenAI-compatible server would."""
        if not request.url.path.endswith("/chat/completions"):
            return _error(404, f"The offline model only serves /v1/chat/completions, not {request.url.path}.")
        if request.method != "POST":
            return _error(405, "Use POST.")
        raw = request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "The request body is not valid JSON.")
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return _error(400, "A request needs 'model' and a list of 'messages'.")
        if not body["messages"]:
            return _error(400, "'messages' must not be empty.")

        reply = respond(body)
        completion_id = _completion_id(raw)
        chunks, completion_tokens = reply_chunks(reply, completion_id=completion_id, model=OFFLINE_MODEL_NAME)
        prompt_tokens = count_prompt_tokens(body["messages"])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if not body.get("stream"):
            return httpx2.Response(
                200, json=_completion(reply, completion_id=completion_id, model=OFFLINE_MODEL_NAME, usage=usage)
            )

        frames = [_sse(chunk) for chunk in chunks]
        if (body.get("stream_options") or {}).get("include_usage"):
            frames.append(_sse({**chunks[-1], "choices": [], "usage": usage}))
        frames.append(_sse("[DONE]"))
        delay = float(getattr(settings, "OFFLINE_MODEL_DELAY", 0) or 0)
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"},
            stream=_EventStream(frames, delay),
        )
