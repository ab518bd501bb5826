"""The tests' stub model (``tests/support/stub_model.py``) as a process of its own, at zero latency.

``python bench/stub.py`` prints ``{"base_url": ...}`` on its first line, then
reads commands on stdin, one per line, and answers each on stdout:

- ``open NAME``: let the runs waiting at gate NAME go on (answers ``ok``);
- ``requests``: the JSON list of the request bodies received since the last ``requests`` (then forgets them).

How it answers (the last user message picks the route, as the planner sees it):

- ``compare ...``: a plan of three steps (x and y at once, then r after both), then short findings
  per executor, and a short synthesis: a complex run, five model calls;
- ``[gate:NAME] ...``: waits until ``open NAME``, then streams ``[chunks:N]`` pieces of
  ``[chars:C]`` characters, ``[every:MS]`` milliseconds apart (defaults 1, 20, 0);
- anything else: one short answer: a simple run, one model call.
"""

import json
import re
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.stub_model import StubModel, Text, is_executor, is_routing, last_user_text, plan

GATE_SECONDS = 300.0
OPTION = re.compile(r"\[(gate|chunks|chars|every):([\w.-]+)\]")
COMPLEX_PLAN = [("x", "Research X"), ("y", "Research Y"), ("r", "Recommend", ["x", "y"])]


class Gates:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Event] = {}

    def get(self, name: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(name, threading.Event())


def responder_for(gates: Gates):
    def reply(request: dict):
        text = last_user_text(request)
        options = dict(OPTION.findall(text))
        if "gate" in options and is_routing(request):
            gates.get(options["gate"]).wait(GATE_SECONDS)
            chars, chunks = int(options.get("chars", 20)), int(options.get("chunks", 1))
            piece = ("lorem ipsum " * (chars // 12 + 1))[: chars - 1] + " "
            return Text(chunks=[piece] * chunks, chunk_delay=float(options.get("every", 0)) / 1000)
        if is_routing(request) and "compare" in text.lower():
            return plan("Compare X and Y", COMPLEX_PLAN)
        if is_executor(request):
            return Text("Findings: solid on quality, weaker on cost.")
        return Text("Here is a short answer from a fast model.")

    return reply


def no_delay(stub: StubModel) -> None:
    """Send each streamed chunk at once (TCP_NODELAY): without it, Nagle holds the small SSE writes for the
    client's delayed ACK, ~40 ms per model call, and a zero-latency model is not one."""
    server = stub._server
    accept = server.get_request

    def get_request():
        connection, address = accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    server.get_request = get_request


def main() -> None:
    gates = Gates()
    stub = StubModel()
    no_delay(stub)
    stub.start()
    stub.responder = responder_for(gates)
    print(json.dumps({"base_url": stub.base_url}), flush=True)
    seen = 0
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "open":
            gates.get(argument).set()
            print("ok", flush=True)
        elif command == "requests":
            requests = stub.requests
            print(json.dumps(requests[seen:]), flush=True)
            seen = len(requests)
        elif command:
            print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)
    stub.stop()


if __name__ == "__main__":
    main()
