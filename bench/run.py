"""Benchmarks of the platform against its floors, side by side in one run: ``make bench`` (never part of the tests).

For each backend (SQLite with the in-process bus; PostgreSQL with Redis as
bus and cache; ``BENCH_BACKENDS=sqlite`` picks one) on a database made
afresh, with real processes: uvicorn as ``make run`` starts it (DEBUG off,
thread runner) pinned to core 0; the tests' stub model at zero latency
(``bench/stub.py``), the clients (``bench/client_runs.py``,
``bench/client_streams.py``) and this orchestrator pinned to core 1:

1. POST ``/api/agent/stream`` to ``done`` for a simple run (1 model call) and
   a complex run (plan, three executors, synthesis: 5 calls), against the
   same model requests (recorded by the stub) sent through the bare
   ``openai`` SDK with the run's parallelism: the ratio of the p50s.
2. Complex runs per CPU-second of the server process (the server is alone on
   its core), with 8 runs in flight; the SDK alone per CPU-second of its client.
3. emit→client p99 with 500 streams of one run at ~25,000 deliveries/s (50
   512-character `text` events a second, the engine's flush size, so each
   model chunk is one event), against a bare SSE stream (``bench/bare_sse.py``)
   served the same way to the same client.
4. Replay of a stored 1,000-event run: the time of the whole replay minus
   that of a replay of only its ``done`` (``Last-Event-ID``), both from the
   client, on new connections: the server time the events add.
5. Idle streams: 2,000 streams waiting on a live run: RSS, threads and
   database connections of the server process, before and after.

Then, once: the Redis bus hop (``bench/bushop.py``) and ``bench/durability.py``.
Prints each figure next to its goal, and writes ``bench/results/latest.json``.
``BENCH_QUICK=1`` runs everything at small sizes (a smoke run).
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report
from bench.procs import CLIENT_CORE, PYTHON, REDIS_URL, ROOT, Backend, Child, Server, Stub, pin_self, run_json, workdir
from tests.support.stub_model import is_routing

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SIZES = {
    "latency_runs": 8 if QUICK else 24,
    "throughput_seconds": 3 if QUICK else 8,
    "concurrency": 8,
    "fanout_streams": 100 if QUICK else 500,
    "fanout_events": 40 if QUICK else 150,
    "fanout_rounds": 1 if QUICK else 2,
    "fanout_every_ms": 20,
    "chars": 512,
    "replay_events": 1000,
    "replay_rounds": 5 if QUICK else 30,
    "idle_streams": 200 if QUICK else 2000,
    "hop_samples": 300 if QUICK else 3000,
}
SIMPLE, COMPLEX = "hello there", "compare X and Y"
BENCH_TIMEOUT = 1200


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "mean": round(statistics.fmean(ordered), 3),
        "n": len(ordered),
    }


class Bench:
    """One backend's figures."""

    def __init__(self, backend: Backend, stub: Stub, token: str):
        self.backend = backend
        self.stub = stub
        self.token = token
        self.dir = backend.workdir
        self.client_env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "PYTHONUNBUFFERED": "1"}
        self.server: Server | None = None

    def client(self, script: str, *args: object) -> dict:
        argv = [PYTHON, str(ROOT / "bench" / script), *map(str, args)]
        return run_json(argv, env=self.client_env, log=self.dir / "clients.log")

    def runs(self, message: str, runs: int, mode: str = "latency", *options: object) -> dict:
        assert self.server is not None
        return self.client("client_runs.py", mode, self.server.url, self.token, message, runs, *options)

    # --- 1 and 2 -------------------------------------------------------------------

    def record_requests(self, route: str, message: str) -> Path:
        """Warm the route up, and keep the model requests of its last run (each run starts with a routing call)."""
        self.stub.requests()
        self.runs(message, 4)
        requests = self.stub.requests()
        starts = [number for number, request in enumerate(requests) if is_routing(request)]
        path = self.dir / f"{route}-requests.json"
        path.write_text(json.dumps(requests[starts[-1] :]))
        return path

    def latency(self) -> dict:
        results = {}
        for route, message in (("simple", SIMPLE), ("complex", COMPLEX)):
            requests = self.record_requests(route, message)
            found = self.runs(message, SIZES["latency_runs"], "compare", f"--requests={requests}")
            platform, sdk = found["platform_ms"], found["sdk_ms"]
            results[route] = {
                "model_calls": found["model_calls"],
                "platform_ms": summary(platform),
                "sdk_ms": summary(sdk),
                "ratio_p50": round(statistics.median(platform) / statistics.median(sdk), 2),
            }
        return results

    def throughput(self) -> dict:
        assert self.server is not None
        found = self.runs(
            COMPLEX,
            SIZES["throughput_seconds"],
            "throughput",
            f"--requests={self.dir / 'complex-requests.json'}",
            f"--concurrency={SIZES['concurrency']}",
            f"--server-pid={self.server.pid}",
        )
        platform, sdk = found["platform"], found["sdk"]
        return {
            "concurrency": SIZES["concurrency"],
            "platform": platform,
            "sdk": sdk,
            "platform_per_cpu_s": round(platform["runs"] / platform["cpu_s"], 1),
            "platform_per_wall_s": round(platform["runs"] / platform["wall_s"], 1),
            "sdk_per_cpu_s": round(sdk["runs"] / sdk["cpu_s"], 1),
            "sdk_per_wall_s": round(sdk["runs"] / sdk["wall_s"], 1),
        }

    # --- 3 -------------------------------------------------------------------------

    def hold(self, url: str, path: str, streams: int, go) -> tuple[dict, dict]:
        """Open streams with the stream client; once all are open, measure, call go(); return both."""
        argv = [PYTHON, str(ROOT / "bench" / "client_streams.py"), "hold", url, path, str(streams)]
        child = Child([*argv, f"--token={self.token}"], core=CLIENT_CORE, env=self.client_env, log=self.dir / "c.log")
        child.start(pipes=True)
        try:
            line = child.readline()
            if line != "ready":
                raise RuntimeError(f"stream client: {line[:500]}")
            measured = go()
            result = child.result()
        finally:
            child.stop()
        if result["finished"] != streams:
            raise RuntimeError(f"{result['finished']} of {streams} streams finished: {result['errors']}")
        return result, measured

    def fanout_figures(self, result: dict) -> dict:
        span = result["last_arrival"] - result["first_arrival"]
        return {
            "deliveries": result["deliveries"],
            "deliveries_per_s": round(result["deliveries"] / span) if span > 0 else 0,
            "latency_ms": summary(result["latencies_ms"]),
        }

    def fanout_bare(self) -> dict:
        server = Server("bench.bare_sse:app", self.backend.env(), self.dir / "bare.log").start()
        try:
            streams, events = SIZES["fanout_streams"], SIZES["fanout_events"]
            query = f"events={events}&every={SIZES['fanout_every_ms']}&chars={SIZES['chars']}"
            result, _ = self.hold(server.url, "/stream", streams, lambda: httpx.post(f"{server.url}/start?{query}"))
        finally:
            server.stop()
        return self.fanout_figures(result)

    def start_gated_run(self, gate: str, **options: int) -> dict:
        """POST a run whose model call waits at a gate of the stub; return its first event."""
        assert self.server is not None
        tags = " ".join(f"[{name}:{value}]" for name, value in {"gate": gate, **options}.items())
        headers = {"Authorization": f"Token {self.token}"}
        with httpx.stream(
            "POST", f"{self.server.url}/api/agent/stream", json={"message": f"{tags} go"}, headers=headers
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    return json.loads(line[6:])
        raise RuntimeError("the gated run sent no event")

    def fanout_platform(self) -> dict:
        assert self.server is not None
        streams = SIZES["fanout_streams"]
        gate = f"fanout-{time.monotonic_ns()}"
        first = self.start_gated_run(
            gate, chunks=SIZES["fanout_events"], chars=SIZES["chars"], every=SIZES["fanout_every_ms"]
        )
        path = f"/api/agent/runs/{first['run_id']}/stream"
        result, _ = self.hold(self.server.url, path, streams, lambda: self.stub.open_gate(gate))
        return self.fanout_figures(result)

    # --- 4 -------------------------------------------------------------------------

    def replay(self) -> dict:
        assert self.server is not None
        self.stub.open_gate("calibrate")
        overhead = self.runs(f"[gate:calibrate] [chunks:1] [chars:{SIZES['chars']}] calibrate", 1)["last_seq"] - 1
        self.stub.open_gate("replay")
        chunks = SIZES["replay_events"] - overhead
        stored = self.runs(f"[gate:replay] [chunks:{chunks}] [chars:{SIZES['chars']}] replay", 1)
        result = self.client(
            "client_streams.py",
            "replay",
            self.server.url,
            stored["run_id"],
            stored["last_seq"],
            SIZES["replay_rounds"],
            f"--token={self.token}",
        )
        full, tail = statistics.median(result["full_ms"]), statistics.median(result["tail_ms"])
        return {
            "events": result["events"],
            "server_ms": round(full - tail, 2),
            "whole_replay_ms": summary(result["full_ms"]),
            "done_only_replay_ms": summary(result["tail_ms"]),
        }

    # --- 5 -------------------------------------------------------------------------

    def settled_status(self) -> dict:
        """The server's status once its memory stops moving (at most ~3 s)."""
        assert self.server is not None
        previous = self.server.status()
        for _ in range(12):
            time.sleep(0.25)
            current = self.server.status()
            if abs(current["rss_kb"] - previous["rss_kb"]) < 256:
                return current
            previous = current
        return previous

    def idle(self) -> dict:
        assert self.server is not None
        streams = SIZES["idle_streams"]
        gate = f"idle-{time.monotonic_ns()}"
        first = self.start_gated_run(gate)
        before = {**self.settled_status(), "connections": self.backend.connections(self.server.pid)}

        def measure() -> dict:
            after = {**self.settled_status(), "connections": self.backend.connections(self.server.pid)}
            self.stub.open_gate(gate)
            return after

        _, after = self.hold(self.server.url, f"/api/agent/runs/{first['run_id']}/stream", streams, measure)
        return {
            "streams": streams,
            "kb_per_stream": round((after["rss_kb"] - before["rss_kb"]) / streams, 1),
            "threads_added": after["threads"] - before["threads"],
            "connections_added": after["connections"] - before["connections"],
            "before": before,
            "after": after,
        }

    def fanout(self) -> dict:
        """Alternate the bare stream and the platform's, FANOUT_ROUNDS times; keep each side's best p99 round.

        Best of n on both sides alike: on a shared machine one round can catch another job's burst.
        """
        rounds: dict[str, list[dict]] = {"bare": [], "platform": []}
        for _ in range(SIZES["fanout_rounds"]):
            rounds["bare"].append(self.fanout_bare())
            rounds["platform"].append(self.fanout_platform())
        bare, platform = (min(found, key=lambda item: item["latency_ms"]["p99"]) for found in rounds.values())
        ratio = (
            round(platform["latency_ms"]["p99"] / bare["latency_ms"]["p99"], 2) if bare["latency_ms"]["p99"] else None
        )
        return {"platform": platform, "bare": bare, "ratio_p99": ratio, "rounds": rounds}

    def all(self) -> dict:
        results: dict = {}
        self.server = Server(
            "agents_platform.asgi:application",
            self.backend.env(LLM_PROVIDER="openai", OPENAI_BASE_URL=self.stub.base_url, OPENAI_API_KEY="bench"),
            self.dir / "server.log",
        ).start()
        try:
            for name in ("latency", "throughput", "fanout", "replay", "idle"):
                started = time.monotonic()
                results[name] = getattr(self, name)()
                print(f"  {self.backend.name}: {name} in {time.monotonic() - started:.1f} s", file=sys.stderr)
        finally:
            self.server.stop()
        return results


def bench_backend(name: str) -> dict:
    backend = Backend(name, workdir())
    started = time.monotonic()
    token = backend.prepare()
    print(f"  {name}: fresh database in {time.monotonic() - started:.1f} s ({backend.workdir})", file=sys.stderr)
    stub = Stub(backend.workdir / "stub.log").start()
    try:
        return Bench(backend, stub, token).all()
    finally:
        stub.stop()


def main() -> None:
    pin_self()
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("the bench took too long")))
    signal.alarm(BENCH_TIMEOUT)
    backends = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
    results: dict = {
        "setup": {
            "quick": QUICK,
            "sizes": SIZES,
            "cpus": os.cpu_count(),
            "pinning": "server on core 0; stub model, clients and orchestrator on core 1",
        },
        "backends": {},
    }
    for name in backends:
        results["backends"][name] = bench_backend(name)
    hop = Child([PYTHON, str(ROOT / "bench" / "bushop.py"), REDIS_URL, str(SIZES["hop_samples"])], core=0)
    results["redis_hop"] = hop.start(pipes=True).result()
    report.print_table(results)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    print(f"\n(JSON: {out / 'latest.json'})")
    if os.environ.get("BENCH_DURABILITY", "1") != "0":
        print("\nDurability (real web, Celery workers, Redis):", flush=True)
        rounds = {"BENCH_DURABILITY_ROUNDS": "1" if QUICK else "2"}
        subprocess.run([PYTHON, str(ROOT / "bench" / "durability.py")], check=True, env={**rounds, **os.environ})


if __name__ == "__main__":
    main()
