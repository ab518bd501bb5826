"""The run client of the bench, a process of its own (pinned by ``bench/run.py``); prints JSON on stdout.

``client_runs.py MODE URL TOKEN MESSAGE RUNS [--requests FILE] [--concurrency N] [--server-pid PID]``

- ``latency``: POST ``/api/agent/stream`` with MESSAGE RUNS times, one after
  the other, each timed from the request's first byte to the body's end
  (``done`` must be the last frame, and the run completed).
- ``compare``: alternately one platform run and one run of the same model
  requests (FILE: what one run sent, recorded by the stub) through the bare
  ``openai`` SDK (``AsyncOpenAI``) with the run's own parallelism (a complex
  run: routing; the two independent executors at once; the third;
  synthesis), RUNS times each, so both sides see the same machine.
- ``throughput``: platform runs with N in flight for RUNS seconds, and the
  server process's CPU time meanwhile (``/proc/<pid>/stat``); then SDK runs
  with N in flight for RUNS seconds, and this process's CPU time.

Raw asyncio sockets for the platform (``bench/rawhttp.py``), the SDK's own
client for the SDK: each side as lean as its user would make it.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rawhttp import SSELines, open_response, request_bytes

SDK_KWARGS = {"model", "messages", "tools", "tool_choice", "stream", "stream_options", "temperature", "max_tokens"}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return a process's user + system CPU time, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def platform_run(host: str, port: int, request: bytes) -> dict:
    """POST one message; return the time to the end of the body and what the stream said."""
    started = time.perf_counter()
    response = await open_response(host, port, request)
    lines, events = SSELines(), []
    try:
        async for chunk in response.chunks():
            events += lines.feed(chunk)
    finally:
        response.close()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or not events:
        raise RuntimeError(f"POST /api/agent/stream answered {response.status} with {len(events)} events")
    first, last = json.loads(events[0]), json.loads(events[-1])
    if last["type"] != "done" or last["status"] != "completed":
        raise RuntimeError(f"the run ended with {events[-1][:300]!r}")
    return {"ms": elapsed, "run_id": first["run_id"], "events": len(events), "last_seq": last["seq"]}


def _post(host: str, port: int, token: str, message: str) -> bytes:
    headers = {"Authorization": f"Token {token}"}
    return request_bytes("POST", host, port, "/api/agent/stream", headers, {"message": message})


async def platform_runs(url: str, token: str, message: str, runs: int, concurrency: int, server_pid: int) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    request = _post(host, port, token, message)
    results: list[dict] = []
    remaining = runs

    async def loop() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            results.append(await platform_run(host, port, request))

    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    return {
        "ms": [result["ms"] for result in results],
        "events": results[-1]["events"],
        "last_seq": results[-1]["last_seq"],
        "run_id": results[-1]["run_id"],
        "wall_s": wall,
        "server_cpu_s": cpu,
    }


def waves(requests: list[dict]) -> list[list[dict]]:
    """Return the run's model calls in the order the platform made them, parallel ones together."""
    from tests.support.stub_model import is_executor, is_routing, is_synthesis

    if len(requests) == 1:
        return [requests]
    routing = [request for request in requests if is_routing(request)]
    executors = [request for request in requests if is_executor(request)]
    synthesis = [request for request in requests if is_synthesis(request)]
    if (len(routing), len(executors), len(synthesis)) != (1, 3, 1):
        raise RuntimeError(f"unexpected model calls of a complex run: {len(requests)}")
    return [routing, executors[:2], executors[2:], synthesis]


class SDK:
    """The bare ``openai`` SDK making one run's model calls, with the run's parallelism."""

    def __init__(self, requests: list[dict]):
        import openai

        self.client = openai.AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="bench", max_retries=0)
        self.plan = waves(requests)

    async def call(self, body: dict) -> None:
        kwargs = {key: value for key, value in body.items() if key in SDK_KWARGS}
        extra = {key: value for key, value in body.items() if key not in SDK_KWARGS}
        stream = await self.client.chat.completions.create(**kwargs, extra_body=extra or None)
        async for _ in stream:
            pass

    async def run(self) -> float:
        started = time.perf_counter()
        for wave in self.plan:
            await asyncio.gather(*(self.call(body) for body in wave))
        return (time.perf_counter() - started) * 1000


async def compare(url: str, token: str, message: str, requests: list[dict], runs: int) -> dict:
    """Alternate one platform run and the same model calls through the SDK, ``runs`` times each."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    request = _post(host, port, token, message)
    sdk = SDK(requests)
    for _ in range(2):  # warm: connections, imports
        await sdk.run()
        await platform_run(host, port, request)
    platform_ms, sdk_ms = [], []
    for _ in range(runs):
        platform_ms.append((await platform_run(host, port, request))["ms"])
        sdk_ms.append(await sdk.run())
    await sdk.client.close()
    return {"platform_ms": platform_ms, "sdk_ms": sdk_ms, "model_calls": len(requests)}


async def sustained(job, concurrency: int, seconds: float, cpu) -> dict:
    """Keep ``concurrency`` jobs in flight for ``seconds``; return the jobs done, the wall and ``cpu()`` spent."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await job()
            done += 1

    cpu_before = cpu()
    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return {"runs": done, "wall_s": time.perf_counter() - started, "cpu_s": cpu() - cpu_before}


async def throughput(
    url: str, token: str, message: str, requests: list[dict], seconds: int, concurrency: int, pid: int
):
    """Runs with N in flight for ``seconds``: on the platform (server CPU), then through the SDK (this process's)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    request = _post(host, port, token, message)

    def server_cpu() -> float:
        return cpu_seconds(pid)

    platform = await sustained(lambda: platform_run(host, port, request), concurrency, seconds, server_cpu)
    sdk = SDK(requests)
    await sdk.run()  # warm
    found = await sustained(sdk.run, concurrency, seconds, time.process_time)
    await sdk.client.close()
    return {"platform": platform, "sdk": found}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["latency", "compare", "throughput"])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("message")
    parser.add_argument("runs", type=int)
    parser.add_argument("--requests", type=Path)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--server-pid", type=int, default=0)
    options = parser.parse_args()
    requests = json.loads(options.requests.read_text()) if options.requests else []
    if options.mode == "latency":
        job = platform_runs(options.url, options.token, options.message, options.runs, 1, 0)
    elif options.mode == "compare":
        job = compare(options.url, options.token, options.message, requests, options.runs)
    else:
        job = throughput(
            options.url, options.token, options.message, requests, options.runs, options.concurrency, options.server_pid
        )
    print(json.dumps(asyncio.run(job)), flush=True)


if __name__ == "__main__":
    main()
