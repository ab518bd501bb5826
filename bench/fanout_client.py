"""Hold many event streams of one run and time each event from its emit() to its arrival.

Run by ``bench/run.py`` in its own process (so the clients do not share the
server's interpreter): ``fanout_client.py HOST PORT RUN_ID TOKEN STREAMS``.
Raw asyncio sockets, not an HTTP library, so 500 clients cost the client
process little. Each event the bench emits carries ``bench_ts`` (the wall
clock just before ``emit()``); the latency is the arrival time minus that.
Prints one JSON object: ``{"opened", "finished", "latencies_ms": [...]}``.
"""

import asyncio
import json
import sys
import time


async def hold_stream(host: str, port: int, run_id: str, token: str, latencies: list[float]) -> bool:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET /api/agent/runs/{run_id}/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Token {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    pending = b""
    try:
        while chunk := await reader.read(65536):
            arrived = time.time()
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if not line.startswith(b"data: "):
                    continue  # status line, headers, chunk sizes, ids, blank lines
                event = json.loads(line[6:])
                if "bench_ts" in event:
                    latencies.append((arrived - event["bench_ts"]) * 1000)
                if event["type"] == "done":
                    return True
        return False
    finally:
        writer.close()


async def main(host: str, port: int, run_id: str, token: str, streams: int) -> dict:
    latencies: list[float] = []
    tasks = [asyncio.create_task(hold_stream(host, port, run_id, token, latencies)) for _ in range(streams)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(result) for result in results if isinstance(result, BaseException)]
    return {
        "opened": streams,
        "finished": sum(result is True for result in results),
        "errors": errors[:5],
        "latencies_ms": latencies,
    }


if __name__ == "__main__":
    host, port, run_id, token, streams = sys.argv[1:6]
    print(json.dumps(asyncio.run(main(host, int(port), run_id, token, int(streams)))))
