"""The Redis bus hop: ``python bench/bushop.py REDIS_URL SAMPLES``; prints JSON on stdout.

One process (pinned by ``bench/run.py``), the platform's own bus classes
(``agents.events.bus``). A publisher thread publishes one event at a time
with its frame, as ``emit()`` does after a commit; a listener in an asyncio
loop waits for it (``wait``) and takes the frame (``frames_after``), as a
stream does. The delay is from just before ``publish`` to the frame in the
listener's hands. Measured twice, alternating in blocks so both see the same
machine:

- ``LocalBus``: publisher and listener share one bus (the embedded platform);
- ``RedisBus``: two buses on one Redis channel of their own, the publisher's
  and the listener's, so the frame goes through Redis and the listener's
  subscriber thread (a worker process and a web process).

The added latency of the hop is the difference of the p99s.
"""

import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BLOCK = 100
PAUSE_SECONDS = 0.0005


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='agents-bench-hop-')}/hop.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "agents_platform.settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


async def measure(publisher, listener, samples: int) -> list[float]:
    """Publish ``samples`` events one at a time; return each publish-to-frame delay in ms."""
    run_id = str(uuid.uuid4())
    sent: dict[int, float] = {}
    delays: list[float] = []
    received = threading.Event()

    def publish_all() -> None:
        for seq in range(1, samples + 1):
            received.clear()
            frame = json.dumps({"type": "text", "run_id": run_id, "seq": seq, "delta": "x" * 40})
            sent[seq] = time.perf_counter()
            publisher.publish(run_id, seq, frame=("text", frame))
            if not received.wait(5):
                raise RuntimeError(f"event {seq} never reached the listener")
            time.sleep(PAUSE_SECONDS)

    thread = threading.Thread(target=publish_all, daemon=True)
    thread.start()
    seq = 0
    while seq < samples:
        await listener.wait(run_id, seq, timeout=1.0)
        frames = listener.frames_after(run_id, seq)
        if frames:
            now = time.perf_counter()
            for number, _, _ in frames:
                delays.append((now - sent[number]) * 1000)
            seq = frames[-1][0]
            received.set()
    thread.join()
    return delays


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(url: str, samples: int) -> dict:
    from agents.events import bus

    channel = f"agents:bench-hop:{os.getpid()}"
    local = bus.LocalBus()
    redis_pub, redis_sub = bus.RedisBus(url, channel=channel), bus.RedisBus(url, channel=channel)
    redis_sub.start()
    if not await asyncio.to_thread(redis_sub.subscribed.wait, 10):
        raise RuntimeError("the Redis subscriber did not subscribe")
    await measure(local, local, 50)  # warm both paths
    await measure(redis_pub, redis_sub, 50)
    local_ms: list[float] = []
    redis_ms: list[float] = []
    for _ in range(max(1, samples // BLOCK)):
        local_ms += await measure(local, local, BLOCK)
        redis_ms += await measure(redis_pub, redis_sub, BLOCK)
    redis_pub.close()
    redis_sub.close()
    result = {}
    for name, values in (("local", local_ms), ("redis", redis_ms)):
        result[name] = {
            "p50_ms": round(percentile(values, 0.5), 3),
            "p99_ms": round(percentile(values, 0.99), 3),
            "n": len(values),
        }
    result["added_p99_ms"] = round(result["redis"]["p99_ms"] - result["local"]["p99_ms"], 3)
    result["added_p50_ms"] = round(result["redis"]["p50_ms"] - result["local"]["p50_ms"], 3)
    return result


if __name__ == "__main__":
    setup_django()
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2])))), flush=True)
