"""Run the real JavaScript clients (tests/node/*.test.mjs) against the live server, and what they talk to.

``scripted_model`` scripts the stub model by the user's message, so a Node
test picks its run by what it sends:

- ``simple …``: a plain answer;
- ``tool …``: ``calculate`` 2+3, then an answer;
- ``complex …``: a plan of two steps whose executors think and call
  ``calculate``, then a synthesis;
- ``slow …``: a plain answer streamed in 40 pieces, 50 ms apart (to re-attach mid-run);
- ``write …``: the write tool ``remember`` (it waits for the user's approval), then an answer.

``run_node(path, server, user)`` runs ``node --test`` on one file with
``BASE_URL`` and ``TOKEN`` in its environment and fails the test with the
runner's output when a Node test fails.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

from rest_framework.authtoken.models import Token

from tests.support.stub_model import Text, ToolCalls, is_executor, is_routing, last_user_text, plan

ROOT = Path(__file__).resolve().parents[2]
NODE_TIMEOUT = 120

SIMPLE_ANSWER = "Hello from the platform."
TOOL_ANSWER = "2 + 3 is 5."
COMPLEX_ANSWER = "Both steps are done: 5 and 9."
SLOW_ANSWER = "".join(f"word{n} " for n in range(40))
WRITE_ANSWER = "I will remember that."
ANSWERS = {
    "SIMPLE_ANSWER": SIMPLE_ANSWER,
    "TOOL_ANSWER": TOOL_ANSWER,
    "COMPLEX_ANSWER": COMPLEX_ANSWER,
    "SLOW_ANSWER": SLOW_ANSWER,
    "WRITE_ANSWER": WRITE_ANSWER,
}


def scripted_model(stub) -> None:
    """Answer each kind of run the Node tests send (see the module docstring)."""

    def reply(request):
        messages = request.get("messages") or []
        last = messages[-1] if messages else {}
        if is_executor(request):
            if last.get("role") == "tool":
                return Text(f"Step result: {last.get('content')}")
            expression = "4+5" if "second" in last_user_text(request).lower() else "2+3"
            return ToolCalls([("calculate", {"expression": expression})], reasoning=["Let me ", "use the calculator."])
        text = last_user_text(request)
        if is_routing(request):
            if text.startswith("tool"):
                if last.get("role") == "tool":
                    return Text(TOOL_ANSWER)
                return ToolCalls([("calculate", {"expression": "2+3"})])
            if text.startswith("complex"):
                return plan("Two sums", [("first", "First sum"), ("second", "Second sum", ["first"])])
            if text.startswith("write"):
                if last.get("role") == "tool":
                    return Text(WRITE_ANSWER)
                return ToolCalls([("remember", {"content": "The sky is blue."})])
            if text.startswith("slow"):
                return Text(SLOW_ANSWER, chunks=40, chunk_delay=0.05)
            return Text(SIMPLE_ANSWER)
        if text.startswith("tool"):
            return Text(TOOL_ANSWER)
        if text.startswith("write"):
            return Text(WRITE_ANSWER)  # the tool loop's next call, when it offers no plan
        return Text(COMPLEX_ANSWER)  # the synthesis

    stub.responder = reply


def run_node(test_file: str, server, user, **env: str) -> str:
    """Run ``node --test`` on tests/node/<test_file> against the live server as ``user``; return its output."""
    node = shutil.which("node")
    assert node, "Node.js is required for the protocol client tests (make test installs the packages)"
    assert (ROOT / "node_modules" / "@ag-ui" / "client").is_dir() and (ROOT / "node_modules" / "ai").is_dir(), (
        "node_modules is missing: run `npm ci` (make test does)"
    )
    token, _ = Token.objects.get_or_create(user=user)
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(ROOT / "tests" / "node" / test_file)],
        cwd=ROOT,
        env={**os.environ, "BASE_URL": server.url, "TOKEN": token.key, **ANSWERS, **env},
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"node --test {test_file} failed:\n{output}"
    return output


def node_counts(output: str) -> dict[str, int]:
    """Return the TAP reporter's closing counts (``tests``, ``pass``, ``fail``, …) of a Node run."""
    return {match[1]: int(match[2]) for match in re.finditer(r"^# (\w+) (\d+)$", output, re.MULTILINE)}
