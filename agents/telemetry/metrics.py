"""Prometheus metrics of the engine, correct across processes.

Counters and histograms are kept by ``prometheus-client``. With one process
(the embedded default) they live in its memory. With several processes on a
machine (uvicorn or gunicorn workers, Celery workers beside a web process),
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by all of them
before they start: every process then writes its values to memory-mapped
files there, and ``GET /metrics`` (any web process) adds them up with
``prometheus_client.multiprocess.MultiProcessCollector`` (see the README).
Counters of processes that exited keep counting (they are totals); the open
streams gauge is a live sum, from which a process removes itself at exit.
What the database knows (runs by status, queued runs, live workers,
approvals waiting) is read from it at scrape time, so it is the same from
every process and every machine.

Labels are bounded: models are the configured names (not what a server
says it served), tools are registered names (``unknown`` otherwise).
"""

import atexit
import os

from prometheus_client import Counter, Gauge, Histogram

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def _forget_this_process() -> None:
    """Drop this process's live gauges (open streams) from the shared directory as it exits."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid())


if MULTIPROCESS:
    atexit.register(_forget_this_process)

RUNS = Counter("agents_runs", "Runs that ended, by route and final status.", ["route", "status"])
RUN_DURATION = Histogram(
    "agents_run_duration_seconds",
    "Runs from start to done, by route and final status.",
    ["route", "status"],
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
LLM_CALLS = Counter("agents_llm_calls", "Model calls, by model, agent role and outcome.", ["model", "role", "outcome"])
LLM_LATENCY = Histogram(
    "agents_llm_call_duration_seconds",
    "Wall time of model calls (retries included), by model and agent role.",
    ["model", "role"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)
LLM_FIRST_TOKEN = Histogram(
    "agents_llm_time_to_first_token_seconds",
    "Time from a model call's start to its first text or tool-call delta, by model and agent role.",
    ["model", "role"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30),
)
LLM_TOKENS = Counter(
    "agents_llm_tokens",
    "Tokens of model calls, by model, agent role and kind (prompt, completion, cached: of prompt, from cache).",
    ["model", "role", "kind"],
)
LLM_COST = Counter(
    "agents_llm_cost_usd", "US dollars of model calls (known prices only), by model and agent role.", ["model", "role"]
)
LLM_UNPRICED = Counter(
    "agents_llm_unpriced_calls", "Model calls whose model has no known price (counted as 0 dollars).", ["model"]
)
TOOL_CALLS = Counter(
    "agents_tool_calls", "Tool calls, by tool and outcome (ok or the error code).", ["tool", "outcome"]
)
TOOL_DURATION = Histogram(
    "agents_tool_call_duration_seconds",
    "Duration of tool calls, by tool.",
    ["tool"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OPEN_STREAMS = Gauge(
    "agents_open_streams", "Event streams being served now (all processes).", multiprocess_mode="livesum"
)


def run_finished(*, route: str, status: str, duration_ms: int | None) -> None:
    """Count a run that ended."""
    route = route or "none"
    RUNS.labels(route, status).inc()
    if duration_ms is not None:
        RUN_DURATION.labels(route, status).observe(duration_ms / 1000)


def llm_call(
    *,
    model: str,
    role: str,
    outcome: str,
    latency_ms: int | None,
    first_token_ms: int | None,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int,
    cost_usd: float,
    cost_known: bool,
) -> None:
    """Count one model call with what it used."""
    LLM_CALLS.labels(model, role, outcome).inc()
    if latency_ms is not None:
        LLM_LATENCY.labels(model, role).observe(latency_ms / 1000)
    if first_token_ms is not None:
        LLM_FIRST_TOKEN.labels(model, role).observe(first_token_ms / 1000)
    for kind, count in (("prompt", prompt_tokens), ("completion", completion_tokens), ("cached", cached_tokens)):
        if count:
            LLM_TOKENS.labels(model, role, kind).inc(count)
    if cost_usd:
        LLM_COST.labels(model, role).inc(cost_usd)
    if not cost_known:
        LLM_UNPRICED.labels(model).inc()


def tool_call(*, tool: str, outcome: str, duration_ms: int | None) -> None:
    """Count one tool call."""
    TOOL_CALLS.labels(tool, outcome).inc()
    if duration_ms is not None:
        TOOL_DURATION.labels(tool).observe(duration_ms / 1000)


def streams_changed(delta: int) -> None:
    """Count event streams opened (+1) and closed (-1)."""
    OPEN_STREAMS.inc(delta)
