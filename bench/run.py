"""Benchmarks of the streaming platform: ``make bench`` (never part of the tests).

Embedded configuration: a fresh SQLite database in a temporary directory,
the in-process bus, the thread runner, uvicorn in a thread of this process,
and the stub model server of the tests answering with zero latency. Figures:

1. ``POST /api/agent/stream`` to ``done`` for a simple run (one model call) and
   a complex run (plan, three executors, synthesis: five calls), next to the
   engine alone (``execute_run`` called directly) and the same model calls
   made through the bare ``openai`` SDK with no platform (the floor: what the
   model calls alone cost on this machine).
2. ``emit()`` to client latency, p50/p99, with 500 streams open on one run,
   held by a separate client process; and the memory and threads each idle
   stream costs the server process.
3. Replay of a stored 1,000-event run from seq 0 to ``done``, and the cost of
   ``emit()`` itself.

Server, stub model and the timing client of (1) and (3) share this process
(and its GIL); only the 500 fan-out clients have their own. Prints a table and
the JSON (also written to ``bench/results/latest.json``). About 30 s on two
cores; ``BENCH_STREAMS`` changes the fan-out.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

FANOUT_STREAMS = int(os.environ.get("BENCH_STREAMS", "500"))
FANOUT_EVENTS = 20
RUNS_PER_ROUTE = 20
REPLAY_EVENTS = 1000
SDK_KWARGS = {"model", "messages", "tools", "tool_choice", "stream", "stream_options", "temperature", "max_tokens"}


def setup_django(prefix: str = "agents-bench-") -> str:
    """Point Django at a throwaway SQLite database, migrate it, and return its path."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    path = f"{workdir}/bench.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.pop("REDIS_URL", None)
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["DJANGO_SETTINGS_MODULE"] = "agents_platform.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return path


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), 2),
        "p99": round(percentile(values, 0.99), 2),
        "mean": round(statistics.fmean(values), 2),
        "n": len(values),
    }


def process_status() -> dict[str, int]:
    """Return this process's resident memory (kB) and OS thread count."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "Threads"}:
            fields[name] = int(value.split()[0])
    return {"rss_kb": fields["VmRSS"], "threads": fields["Threads"]}


def responder(request: dict):
    """Answer like a fast model: plans for 'compare', text otherwise (see tests/stub_model.py)."""
    from tests.stub_model import Text, is_executor, is_routing, last_user_text, plan

    if is_routing(request) and "compare" in last_user_text(request).lower():
        return plan("Compare X and Y", [("x", "Research X"), ("y", "Research Y"), ("r", "Recommend", ["x", "y"])])
    if is_executor(request):
        return Text("Findings: solid on quality, weaker on cost.")
    return Text("Here is a short answer from a fast model.")


def time_route(client, message: str, runs: int) -> dict:
    """Time POST to done (and to the first event) over several runs."""
    totals, firsts = [], []
    for _ in range(runs):
        started = time.perf_counter()
        with client.send(message) as stream:
            frames = iter(stream)
            next(frames)
            firsts.append((time.perf_counter() - started) * 1000)
            events = [frame.event for frame in frames if frame.data is not None]
        totals.append((time.perf_counter() - started) * 1000)
        assert events[-1]["type"] == "done" and events[-1]["status"] == "completed", events[-1]
    return {"to_done_ms": summary(totals), "to_first_event_ms": summary(firsts)}


def sdk_floor(base_url: str, requests: list[dict], runs: int, *, complex_route: bool) -> dict:
    """Replay the platform's own model requests through the bare openai SDK, with the same parallelism."""
    import openai

    from tests.stub_model import is_executor

    sdk = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)

    def call(body: dict) -> None:
        for _ in sdk.chat.completions.create(**{key: value for key, value in body.items() if key in SDK_KWARGS}):
            pass

    executors = [request for request in requests if is_executor(request)]
    others = [request for request in requests if not is_executor(request)]
    totals = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(runs):
            started = time.perf_counter()
            if complex_route:  # routing; x and y at once; r; synthesis
                call(others[0])
                list(pool.map(call, executors[:2]))
                call(executors[2])
                call(others[1])
            else:
                for request in requests:
                    call(request)
            totals.append((time.perf_counter() - started) * 1000)
    return summary(totals)


def engine_only(user, message: str, runs: int) -> dict:
    """Time the engine alone (``worker.execute_run`` in this thread: claim, drive, finish): no HTTP, no stream."""
    from agents.runs import services
    from agents.runtime import worker

    totals = []
    for _ in range(runs):
        run, _ = services.run_create(user=user, message=message)
        started = time.perf_counter()
        worker.execute_run(run.pk)
        totals.append((time.perf_counter() - started) * 1000)
    return summary(totals)


def statements_per_run(user, message: str) -> int:
    """Count the SQL statements of one run, from the stored run to done (claim, lease, engine, finish)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agents.runs import services
    from agents.runtime import worker

    run, _ = services.run_create(user=user, message=message)
    with CaptureQueriesContext(connection) as queries:
        worker.execute_run(run.pk)
    return len(queries.captured_queries)


def bench_routes(server, stub, user) -> dict:
    client = server.client(user)
    results = {}
    for route, message, calls in (("simple", "hello there", 1), ("complex", "compare X and Y", 5)):
        time_route(client, message, 3)  # warm up imports, connections, caches
        before = len(stub.requests)
        with client.send(message) as stream:
            stream.events()
        requests = stub.requests[before:]
        assert len(requests) == calls, f"{route}: expected {calls} model calls, saw {len(requests)}"
        platform = time_route(client, message, RUNS_PER_ROUTE)
        floor = sdk_floor(stub.base_url, requests, RUNS_PER_ROUTE, complex_route=route == "complex")
        results[route] = {
            "model_calls": calls,
            "platform": platform,
            "engine_only_ms": engine_only(user, message, RUNS_PER_ROUTE),
            "statements_per_run": statements_per_run(user, message),
            "bare_sdk_floor_ms": floor,
            "overhead_p50_ms": round(platform["to_done_ms"]["p50"] - floor["p50"], 2),
        }
    return results


def wait_for(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out waiting for {what}")
        time.sleep(0.05)


def bench_fanout(server, user, token: str) -> dict:
    from agents import events
    from agents.events import bus
    from agents.http import streams as views
    from agents.runs import services

    run, _ = services.run_create(user=user, message="fan-out")  # queued, never executed: only the bench emits
    events.emit(run, events.SESSION, session={"id": str(run.session_id)})
    idle_before = process_status()
    command = [sys.executable, str(BASE_DIR / "bench" / "fanout_client.py"), "127.0.0.1", str(server.port)]
    client = subprocess.Popen([*command, str(run.pk), token, str(FANOUT_STREAMS)], stdout=subprocess.PIPE, text=True)
    wait_for(lambda: views.open_streams() >= FANOUT_STREAMS, f"{FANOUT_STREAMS} open streams", 60)
    wait_for(lambda: bus.get_bus().listener_count() >= FANOUT_STREAMS, "every stream waiting on the bus", 30)
    time.sleep(1.0)  # let the connection-time garbage settle before measuring
    idle_after = process_status()
    for number in range(FANOUT_EVENTS):
        events.emit(run, events.TEXT, delta=f"tick {number}", agent_id="bench", bench_ts=time.time())
        time.sleep(0.1)
    events.emit(run, events.DONE, status="completed", message_id=None, usage={}, duration_ms=None)
    output, _ = client.communicate(timeout=120)
    received = json.loads(output)
    assert received["finished"] == FANOUT_STREAMS, received["errors"]
    assert len(received["latencies_ms"]) == FANOUT_STREAMS * FANOUT_EVENTS
    return {
        "streams": FANOUT_STREAMS,
        "events": FANOUT_EVENTS,
        "emit_to_client_ms": summary(received["latencies_ms"]),
        "idle_stream_memory_kb": round((idle_after["rss_kb"] - idle_before["rss_kb"]) / FANOUT_STREAMS, 1),
        "idle_stream_threads": round((idle_after["threads"] - idle_before["threads"]) / FANOUT_STREAMS, 3),
        "server_threads_with_streams_idle": idle_after["threads"],
    }


def bench_replay(server, user) -> dict:
    from agents import events
    from agents.models import Run
    from agents.runs import services

    run, _ = services.run_create(user=user, message="a long run")
    started = time.perf_counter()
    events.emit(run, events.SESSION, session={"id": str(run.session_id)})
    for number in range(REPLAY_EVENTS - 2):
        events.emit(run, events.TEXT, delta=f"piece {number} of a long answer ", agent_id="bench")
    events.emit(run, events.DONE, status="completed", message_id=None, usage={}, duration_ms=None)
    emit_ms = (time.perf_counter() - started) * 1000 / REPLAY_EVENTS
    services.run_finish(run=run, status=Run.Status.COMPLETED)

    client = server.client(user)
    totals = []
    for _ in range(5):
        started = time.perf_counter()
        with client.join(run.pk) as stream:
            found = stream.events()
        totals.append((time.perf_counter() - started) * 1000)
        assert len(found) == REPLAY_EVENTS and found[-1]["type"] == "done"
    return {"events": REPLAY_EVENTS, "replay_ms": summary(totals), "emit_ms_per_event": round(emit_ms, 3)}


def print_table(results: dict) -> None:
    rows = []
    for route in ("simple", "complex"):
        item = results["routes"][route]
        rows.append(
            (
                f"{route} run: POST to done ({item['model_calls']} model calls)",
                f"p50 {item['platform']['to_done_ms']['p50']} ms, p99 {item['platform']['to_done_ms']['p99']} ms",
            )
        )
        rows.append((f"{route} run: first event", f"p50 {item['platform']['to_first_event_ms']['p50']} ms"))
        rows.append((f"{route} run: engine alone (no HTTP)", f"p50 {item['engine_only_ms']['p50']} ms"))
        rows.append((f"{route} run: SQL statements (claim to done)", f"{item['statements_per_run']}"))
        rows.append((f"{route} run: bare openai SDK floor", f"p50 {item['bare_sdk_floor_ms']['p50']} ms"))
    fanout = results["fanout"]
    latency = fanout["emit_to_client_ms"]
    rows += [
        (f"emit() to client, {fanout['streams']} streams", f"p50 {latency['p50']} ms, p99 {latency['p99']} ms"),
        ("memory per idle stream", f"{fanout['idle_stream_memory_kb']} kB"),
        ("threads per idle stream", f"{fanout['idle_stream_threads']}"),
        (
            f"replay of a {results['replay']['events']}-event run",
            f"p50 {results['replay']['replay_ms']['p50']} ms",
        ),
        ("emit() cost (SQLite, WAL)", f"{results['replay']['emit_ms_per_event']} ms per event"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from agents.llm import gateway as llm
    from tests.live_server import LiveServer
    from tests.stub_model import StubModel

    stub = StubModel().start()
    stub.responder = responder
    settings.LLM_PROVIDER, settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = "openai", stub.base_url, "bench"
    settings.AGENT_RATE_LIMIT, settings.AGENT_TOKEN_BUDGET = "100000/m", 10**9
    settings.AGENT_MAX_STREAMS_PER_USER = 100_000  # one bench user holds every fan-out stream
    llm.reset_client()
    user = get_user_model().objects.create_user(username="bench")  # token auth only: no password
    token = Token.objects.create(user=user).key
    server = LiveServer().start()
    try:
        results = {
            "setup": {"database": "sqlite (WAL)", "bus": "in-process", "runner": "thread", "cpus": os.cpu_count()},
            "routes": bench_routes(server, stub, user),
            "fanout": bench_fanout(server, user, token),
            "replay": bench_replay(server, user),
        }
    finally:
        server.stop()
        stub.stop()
    print_table(results)
    print(json.dumps(results, indent=2))
    print("\nDurability (real web, Celery workers, Redis):")
    subprocess.run([sys.executable, str(BASE_DIR / "bench" / "durability.py")], check=True)
    out = BASE_DIR / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
