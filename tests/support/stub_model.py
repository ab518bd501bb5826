"""An OpenAI-compatible stub model server for tests, and the ``stub_model`` fixture.

A real HTTP server on 127.0.0.1 (a free port, one thread per connection, so
parallel executors can call it at once) that answers
``POST /v1/chat/completions`` with scripted replies, streamed in the Chat
Completions wire format. The fixture points the settings at it, so the code
under test talks to it through the real ``openai`` SDK over real HTTP::

    def test_something(stub_model):
        stub_model.queue(ToolCalls([("calculate", {"expression": "2+2"})]), Text("It is 4."))
        ...
        assert stub_model.requests[1]["messages"][-1]["role"] == "tool"

    def test_parallel(stub_model):
        def reply(request):
            if is_routing(request):
                return plan("Compare", [("x", "Research X"), ("y", "Research Y"), ("r", "Recommend", ["x", "y"])])
            if is_executor(request):
                return Text(f"Findings on {last_user_text(request)[:20]}")
            return Text("Final answer")
        stub_model.responder = reply

Replies: ``Text``, ``ToolCalls``, ``Error``, ``Cut``, ``Hang``, ``Raw``; a plain
string is ``Text(string)``. Queued replies are used first, in order; then the
responder; with neither, the stub answers 400 "no reply scripted".
"""

import itertools
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.llm.tokens import count_prompt_tokens, count_tokens

# (prompt, completion), (prompt, completion, cached prompt tokens), "auto" (counted), or None (no usage chunk)
Usage = tuple[int, int] | tuple[int, int, int] | str | None


@dataclass
class Text:
    """Stream a text answer.

    ``chunks``: None splits per word, an int into that many pieces, a list is
    sent as given (``content`` may then be omitted). ``delay``: seconds before
    the first byte; ``chunk_delay``: seconds between chunks. ``reasoning``:
    pieces of a reasoning stream sent before the content, as deltas of
    ``reasoning_key`` (``reasoning_content`` as DeepSeek and vLLM, or
    ``reasoning`` as OpenRouter and Ollama).
    """

    content: str | None = None
    chunks: int | list[str] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    usage: Usage = "auto"
    finish_reason: str = "stop"
    reasoning: list[str] = field(default_factory=list)
    reasoning_key: str = "reasoning_content"

    def pieces(self) -> list[str]:
        if isinstance(self.chunks, list):
            if self.content is not None and "".join(self.chunks) != self.content:
                raise ValueError("Text: the chunks do not add up to the content")
            return list(self.chunks)
        return split_text(self.content or "", self.chunks)

    def text(self) -> str:
        return "".join(self.pieces())


@dataclass
class ToolCalls:
    """Stream tool calls: ``[(name, arguments), ...]`` or ``(name, arguments, call_id)``.

    ``arguments`` is a dict (sent as JSON) or a raw string (sent as is, valid
    JSON or not). Each call's arguments go out in ``fragments`` pieces;
    ``interleave`` mixes the fragments of parallel calls. ``content`` is text
    streamed before the calls; ``reasoning`` as for ``Text``.
    """

    calls: list[tuple]
    content: str = ""
    fragments: int = 3
    interleave: bool = False
    delay: float = 0.0
    chunk_delay: float = 0.0
    usage: Usage = "auto"
    reasoning: list[str] = field(default_factory=list)
    reasoning_key: str = "reasoning_content"

    def normalised(self) -> list[tuple[str, str, str]]:
        result = []
        for index, call in enumerate(self.calls):
            name, arguments = call[0], call[1]
            call_id = call[2] if len(call) > 2 else f"call_stub_{index}_{next(_call_numbers)}"
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
            result.append((call_id, name, raw))
        return result


@dataclass
class Error:
    """Answer with an HTTP error and an OpenAI-style error body, e.g. ``Error(429, headers={"Retry-After": "0"})``."""

    status: int
    message: str = "stub error"
    headers: dict[str, str] = field(default_factory=dict)
    type: str = "stub_error"
    code: str | None = None


@dataclass
class Cut:
    """Send ``after_chunks`` text chunks, then drop the connection without finishing the body or [DONE]."""

    after_chunks: int = 2
    content: str = "This answer will be cut off before it is finished"
    chunk_delay: float = 0.0


@dataclass
class Hang:
    """Stay silent ``seconds`` (before any byte, or after ``after_chunks`` text chunks), then drop the connection."""

    seconds: float
    after_chunks: int = 0
    content: str = "A stalled answer that never finishes"


@dataclass
class Raw:
    """Stream these SSE ``data:`` payloads verbatim (dicts are JSON-encoded), e.g. to send a malformed chunk."""

    events: list[str | dict]
    status: int = 200


Reply = Text | ToolCalls | Error | Cut | Hang | Raw
_call_numbers = itertools.count(1)


def split_text(content: str, chunks: int | None) -> list[str]:
    """Split text into pieces: one per word, or exactly ``chunks`` pieces of nearly equal word counts."""
    words = re.findall(r"\S+\s*|\s+", content) or [""]
    if chunks is None:
        return words
    units = words if chunks <= len(words) else list(content)  # more pieces than words: split characters
    size, extra = divmod(len(units), max(min(chunks, len(units)), 1))
    pieces, start = [], 0
    for number in range(max(min(chunks, len(units)), 1)):
        end = start + size + (1 if number < extra else 0)
        pieces.append("".join(units[start:end]))
        start = end
    return pieces


def plan(objective: str, steps: list) -> ToolCalls:
    """Return a ``create_plan`` call. A step is a dict or ``(id, title[, instructions][, depends_on])``."""
    built = []
    for step in steps:
        if isinstance(step, dict):
            built.append(step)
            continue
        step_id, title, *rest = step
        depends_on = rest.pop() if rest and isinstance(rest[-1], list) else []
        instructions = rest[0] if rest else f"Do this: {title}."
        built.append({"id": step_id, "title": title, "instructions": instructions, "depends_on": depends_on})
    return ToolCalls([("create_plan", {"objective": objective, "steps": built})])


# --- Looking at requests ---------------------------------------------------------------


def tool_names(request: dict) -> list[str]:
    """Return the names of the tools a request offers."""
    return [(tool.get("function") or {}).get("name", "") for tool in request.get("tools") or ()]


def is_routing(request: dict) -> bool:
    """Return whether this is a planner call that may route or plan (``create_plan`` offered)."""
    return "create_plan" in tool_names(request)


def is_executor(request: dict) -> bool:
    """Return whether this is an executor call (tools offered, neither ``create_plan`` nor ``revise_plan``)."""
    names = tool_names(request)
    return bool(names) and "create_plan" not in names and "revise_plan" not in names


def is_replanning(request: dict) -> bool:
    """Return whether this is the planner's replanning call (``revise_plan`` offered)."""
    return "revise_plan" in tool_names(request)


def revise(objective: str, steps: list) -> ToolCalls:
    """Return a ``revise_plan`` call; steps as for ``plan``."""
    call = plan(objective, steps)
    return ToolCalls([("revise_plan", call.calls[0][1])])


def is_synthesis(request: dict) -> bool:
    """Return whether this call offers no tools (the planner's synthesis)."""
    return not tool_names(request)


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def last_user_text(request: dict) -> str:
    """Return the text of the request's last user message."""
    users = [m for m in request.get("messages") or () if m.get("role") == "user"]
    return _text(users[-1]) if users else ""


def has_tool_results(request: dict) -> bool:
    """Return whether the request's last message is a tool result (a tool-loop continuation)."""
    messages = request.get("messages") or []
    return bool(messages) and messages[-1].get("role") == "tool"


# --- The server ---------------------------------------------------------------------------


class StubModel:
    """A scripted OpenAI-compatible Chat Completions server (see the module docstring)."""

    def __init__(self) -> None:
        self.responder: Callable[[dict], Reply | str] | None = None
        self.errors: list[BaseException] = []
        self._queue: deque = deque()
        self._requests: list[dict] = []
        self._headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="stub-model", daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.base_url = f"{self.url}/v1"

    def start(self) -> "StubModel":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes Hang replies
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def queue(self, *replies: Reply | str) -> "StubModel":
        """Add replies used in order, before the responder."""
        with self._lock:
            self._queue.extend(replies)
        return self

    @property
    def requests(self) -> list[dict]:
        """Return the JSON bodies received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """Return the headers (lower-cased names) of each request received so far."""
        with self._lock:
            return list(self._headers)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[dict]:
        """Block until at least ``count`` requests arrived; fail the test after ``timeout`` seconds."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._requests) >= count, timeout=timeout):
                pytest.fail(f"stub_model got {len(self._requests)} requests, expected {count}")
            return list(self._requests)

    def _next_reply(self, request: dict, headers: dict[str, str]) -> Reply:
        with self._lock:
            self._requests.append(request)
            self._headers.append(headers)
            self._arrived.notify_all()
            reply = self._queue.popleft() if self._queue else None
        if reply is None and self.responder is not None:
            try:
                reply = self.responder(request)
            except Exception as exc:  # surfaced by the fixture, answered 400 so nothing retries it
                self.errors.append(exc)
                return Error(400, f"stub_model responder raised {exc!r}")
        if reply is None:
            return Error(400, "stub_model: no reply scripted for this request (empty queue, no responder)")
        return Text(reply) if isinstance(reply, str) else reply

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; return False when it is."""
        return not (seconds and self._stopping.wait(seconds))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """Ignore clients that hang up (cancelled or timed-out calls); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(stub: StubModel) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.stub = stub
    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked streaming; a Cut is then a truncated body, as on the real internet
    server_version = "StubModel/1.0"
    stub: StubModel

    def log_message(self, format, *args):
        """Keep test output quiet."""

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
            return self._send_error(Error(404, f"stub_model serves /v1/chat/completions, not {self.path}"))
        try:
            request = json.loads(raw)
        except ValueError:
            return self._send_error(Error(400, "the request body is not JSON"))
        reply = self.stub._next_reply(request, {k.lower(): v for k, v in self.headers.items()})
        try:
            self._answer(request, reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (cancel, timeout): nothing to do

    # --- replies ---

    def _answer(self, request: dict, reply: Reply) -> None:
        model = request.get("model") or "stub-model"
        if isinstance(reply, Error):
            return self._send_error(reply)
        if isinstance(reply, Raw):
            return self._send_raw(reply)
        if isinstance(reply, Hang) and not reply.after_chunks:
            self.stub._wait(reply.seconds)
            self.close_connection = True
            return None
        if isinstance(reply, Cut | Hang):
            return self._send_broken(model, reply)
        if not request.get("stream"):
            return self._send_json(200, self._completion(request, model, reply))
        if not self.stub._wait(reply.delay):
            return None
        ident = f"chatcmpl-stub-{next(_call_numbers)}"
        chunks = self._chunks(ident, model, reply)
        usage = self._usage(request, reply)
        if usage is not None and (request.get("stream_options") or {}).get("include_usage"):
            chunks.append({**_chunk(ident, model, None), "choices": [], "usage": usage})
        self._start_stream()
        for number, chunk in enumerate(chunks):
            if number and not self.stub._wait(reply.chunk_delay):
                return None
            self._send_event(json.dumps(chunk))
        self._send_event("[DONE]")
        self._end_stream()
        return None

    def _chunks(self, ident: str, model: str, reply: Text | ToolCalls) -> list[dict]:
        chunks = [_chunk(ident, model, {"role": "assistant", "content": ""})]
        chunks += [_chunk(ident, model, {reply.reasoning_key: piece}) for piece in reply.reasoning]
        text = reply.pieces() if isinstance(reply, Text) else split_text(reply.content, None) if reply.content else []
        chunks += [_chunk(ident, model, {"content": piece}) for piece in text]
        if isinstance(reply, Text):
            return [*chunks, _chunk(ident, model, {}, reply.finish_reason)]
        streams = []
        for index, (call_id, name, raw) in enumerate(reply.normalised()):
            head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            size = max(1, -(-len(raw) // max(reply.fragments, 1)))
            tail = [{"index": index, "function": {"arguments": raw[i : i + size]}} for i in range(0, len(raw), size)]
            streams.append([head, *tail])
        if reply.interleave:
            ordered = [f for group in itertools.zip_longest(*streams) for f in group if f is not None]
        else:
            ordered = [fragment for stream in streams for fragment in stream]
        chunks += [_chunk(ident, model, {"tool_calls": [fragment]}) for fragment in ordered]
        return [*chunks, _chunk(ident, model, {}, "tool_calls")]

    def _usage(self, request: dict, reply: Text | ToolCalls) -> dict | None:
        if reply.usage is None:
            return None
        if reply.usage == "auto":
            prompt = count_prompt_tokens(request.get("messages") or [])
            if isinstance(reply, Text):
                completion = count_tokens(reply.text())
            else:
                calls = reply.normalised()
                completion = count_tokens(reply.content) + sum(count_tokens(n) + count_tokens(a) for _, n, a in calls)
        else:
            prompt, completion, *cached = reply.usage
            if cached:
                return {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                    "prompt_tokens_details": {"cached_tokens": cached[0]},
                }
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _completion(self, request: dict, model: str, reply: Text | ToolCalls) -> dict:
        message: dict = {"role": "assistant", "content": reply.text() if isinstance(reply, Text) else reply.content}
        if isinstance(reply, ToolCalls):
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in reply.normalised()
            ]
        finish = reply.finish_reason if isinstance(reply, Text) else "tool_calls"
        return {
            "id": f"chatcmpl-stub-{next(_call_numbers)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self._usage(request, reply),
        }

    def _send_broken(self, model: str, reply: Cut | Hang) -> None:
        ident = f"chatcmpl-stub-{next(_call_numbers)}"
        self._start_stream()
        self._send_event(json.dumps(_chunk(ident, model, {"role": "assistant", "content": ""})))
        for number, piece in enumerate(split_text(reply.content, None)[: reply.after_chunks]):
            if number and isinstance(reply, Cut) and not self.stub._wait(reply.chunk_delay):
                return
            self._send_event(json.dumps(_chunk(ident, model, {"content": piece})))
        if isinstance(reply, Hang):
            self.stub._wait(reply.seconds)
        # Drop the connection mid-body: no final chunk, no [DONE].
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _send_raw(self, reply: Raw) -> None:
        self._start_stream(reply.status)
        for event in reply.events:
            self._send_event(event if isinstance(event, str) else json.dumps(event))
        self._end_stream()

    # --- HTTP plumbing ---

    def _send_json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error: Error) -> None:
        body = {"error": {"message": error.message, "type": error.type, "code": error.code, "param": None}}
        self._send_json(error.status, body, error.headers)

    def _start_stream(self, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send_event(self, payload: str) -> None:
        data = f"data: {payload}\n\n".encode()
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _chunk(ident: str, model: str, delta: dict | None, finish_reason: str | None = None) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }


@pytest.fixture
def stub_model(settings, monkeypatch):
    """Run a stub model server and point the LLM settings at it for this test.

    Retry backoff is cut to milliseconds so error scripts stay fast. A
    responder that raised fails the test at teardown.
    """
    from agents.llm import gateway as llm

    stub = StubModel().start()
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = stub.base_url
    settings.OPENAI_API_KEY = "test"
    monkeypatch.setattr(llm, "RETRY_BASE_DELAY", 0.01)
    llm.reset_client()
    yield stub
    llm.reset_client()
    stub.stop()
    if stub.errors:
        pytest.fail(f"stub_model responder raised: {stub.errors[0]!r}")
