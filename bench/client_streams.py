"""The stream client of the bench, a process of its own (pinned by ``bench/run.py``); prints JSON on stdout.

``hold URL PATH STREAMS [--token T]``: open STREAMS event streams of PATH
(a run's ``/api/agent/runs/<id>/stream``, or the bare server's ``/stream``),
print ``ready`` once every one has received its first bytes, then read them
all to their end. Each ``text`` event's delay is its arrival (wall clock,
taken when its HTTP chunk is read) minus its ``ts`` (stamped by the server
when the event was emitted). Prints ``{"finished", "errors", "latencies_ms",
"deliveries", "first_arrival", "last_arrival"}``.

``replay URL RUN_ID LAST_SEQ ROUNDS --token T``: time GET of the run's stream
from the start (every stored event) and from ``Last-Event-ID: LAST_SEQ-1``
(only ``done``), alternately, ROUNDS times each, on new connections, from
the request's first byte to the body's last; prints both series.
"""

import argparse
import asyncio
import datetime
import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rawhttp import SSELines, open_response, request_bytes

TYPE = re.compile(rb'"type":\s*"(\w+)"')
TS = re.compile(rb'"ts":\s*"([^"]+)"')
OPEN_CONCURRENCY = 100


def _headers(token: str | None, **extra: str) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", **extra}
    if token:
        headers["Authorization"] = f"Token {token}"
    return headers


async def _hold_one(host, port, path, token, opened: asyncio.Semaphore, ready, arrivals: list) -> bool:
    async with opened:
        response = await open_response(host, port, request_bytes("GET", host, port, path, _headers(token)))
        if response.status != 200:
            body = await response.body()
            response.close()
            raise RuntimeError(f"{response.status}: {body[:200]!r}")
        chunks = response.chunks()
        lines = SSELines()
        pending = [await chunks.__anext__()]
    ready()
    try:
        finished = False
        for chunk in pending:
            finished = _take(lines.feed(chunk), time.time(), arrivals) or finished
        async for chunk in chunks:
            finished = _take(lines.feed(chunk), time.time(), arrivals) or finished
        return finished
    finally:
        response.close()


def _take(datas: list[bytes], arrived: float, arrivals: list) -> bool:
    """Keep (arrival, ts) of each text event; return whether `done` came."""
    done = False
    for data in datas:
        kind = TYPE.search(data)
        if kind is None:
            continue
        if kind[1] == b"text":
            arrivals.append((arrived, TS.search(data)[1]))
        elif kind[1] == b"done":
            done = True
    return done


async def hold(url: str, path: str, streams: int, token: str | None) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    arrivals: list[tuple[float, bytes]] = []
    count = 0

    def ready() -> None:
        nonlocal count
        count += 1
        if count == streams:
            print("ready", flush=True)

    opened = asyncio.Semaphore(OPEN_CONCURRENCY)
    tasks = [_hold_one(host, port, path, token, opened, ready, arrivals) for _ in range(streams)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(result) for result in results if isinstance(result, BaseException)]
    latencies = [(arrived - _epoch(ts)) * 1000 for arrived, ts in arrivals]
    return {
        "streams": streams,
        "finished": sum(result is True for result in results),
        "errors": errors[:5],
        "deliveries": len(latencies),
        "first_arrival": min((a for a, _ in arrivals), default=0.0),
        "last_arrival": max((a for a, _ in arrivals), default=0.0),
        "latencies_ms": latencies,
    }


def _epoch(ts: bytes) -> float:
    return datetime.datetime.fromisoformat(ts.decode()).timestamp()


async def _get_all(host: str, port: int, request: bytes) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = await open_response(host, port, request)
    body = await response.body()
    elapsed = (time.perf_counter() - started) * 1000
    response.close()
    if response.status != 200:
        raise RuntimeError(f"replay answered {response.status}: {body[:200]!r}")
    return elapsed, body


async def replay(url: str, run_id: str, last_seq: int, rounds: int, token: str) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    path = f"/api/agent/runs/{run_id}/stream"
    whole = request_bytes("GET", host, port, path, _headers(token))
    tail = request_bytes("GET", host, port, path, _headers(token, **{"Last-Event-ID": str(last_seq - 1)}))
    full_ms, tail_ms, frames = [], [], 0
    for _ in range(rounds):
        elapsed, body = await _get_all(host, port, whole)
        full_ms.append(elapsed)
        frames = body.count(b"\ndata: ")
        if b'"done"' not in body.rsplit(b"\ndata: ", 1)[-1]:
            raise RuntimeError("the replay did not end with done")
        elapsed, body = await _get_all(host, port, tail)
        tail_ms.append(elapsed)
        if body.count(b"\ndata: ") != 1:
            raise RuntimeError(f"the tail replay sent {body.count(b'data: ')} events, not 1")
    return {"events": frames, "full_ms": full_ms, "tail_ms": tail_ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["hold", "replay"])
    parser.add_argument("url")
    parser.add_argument("args", nargs="+")
    parser.add_argument("--token")
    options = parser.parse_args()
    if options.mode == "hold":
        path, streams = options.args
        result = uvloop.run(hold(options.url, path, int(streams), options.token))
    else:
        run_id, last_seq, rounds = options.args
        result = uvloop.run(replay(options.url, run_id, int(last_seq), int(rounds), options.token))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
