"""OpenTelemetry traces of runs, named and attributed by the GenAI semantic conventions.

Off unless the standard variables name an exporter (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER``; the SDK reads
the others, e.g. ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_HEADERS``). Then
every run is one trace::

    invoke_workflow agents.run                 the run (one attempt; a resumed attempt joins the same trace)
      invoke_agent planner
        chat <model>                           each model call: tokens, time to first chunk, finish reason
        execute_tool <tool>                    each tool call
        plan                                   the plan's steps, from the first step to the run's end
          invoke_agent executor                each step's executor
            chat <model>
            execute_tool <tool>

The engine runs a run's agents in several threads, so spans are not nested
through the "current span" of a thread: each run keeps its open spans here
(by run and agent id) and every span names its parent explicitly. A model
call's span is written when the call has ended, with its real start time.
Prompt and completion text (``gen_ai.input.messages``, ``gen_ai.output.messages``,
tool arguments and results) are recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is on.

The provider is this module's own (not the global one), so tests can install
an in-memory exporter (``use_exporter``) and other libraries' tracing is left alone.
"""

import atexit
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

_lock = threading.Lock()
_provider = None  # opentelemetry.sdk.trace.TracerProvider once configured
_tracer = None
_configured = False
_runs: dict[str, "RunTrace"] = {}

TRACER_NAME = "agents"
PROVIDER_NAME = "openai"  # the API spoken (docs/architecture.md#talking-to-the-model), whatever server answers


@dataclass
class RunTrace:
    span: Any
    plan: Any = None
    agents: dict[str, Any] = field(default_factory=dict)


def _configure() -> None:
    """Build the provider from the environment, once per process, when tracing is on."""
    global _provider, _tracer, _configured
    with _lock:
        if _configured:
            return
        _configured = True
        if not settings.OTEL_ENABLED:
            return
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        if settings.OTEL_TRACES_EXPORTER == "console":
            exporter = ConsoleSpanExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # endpoint, headers, timeout from OTEL_EXPORTER_OTLP_*
        provider = TracerProvider(resource=Resource.create({"service.name": _service_name()}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        _provider, _tracer = provider, provider.get_tracer(TRACER_NAME)
        atexit.register(provider.shutdown)  # export what is still queued when the process ends


def _service_name() -> str:
    return os.environ.get("OTEL_SERVICE_NAME") or "agents-platform"


def use_exporter(exporter) -> None:
    """Trace into ``exporter`` synchronously from now on (tests: an ``InMemorySpanExporter``)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    global _provider, _tracer, _configured
    provider = TracerProvider(resource=Resource.create({"service.name": "agents-platform-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with _lock:
        _provider, _tracer, _configured = provider, provider.get_tracer(TRACER_NAME), True
        _runs.clear()


def reset() -> None:
    """Forget the provider (tests); the next use configures it from the settings again."""
    global _provider, _tracer, _configured
    with _lock:
        provider, _provider, _tracer, _configured = _provider, None, None, False
        _runs.clear()
    if provider is not None:
        provider.shutdown()


def shutdown() -> None:
    """Flush and stop the exporter (process exit)."""
    if _provider is not None:
        _provider.shutdown()


def enabled() -> bool:
    _configure()
    return _tracer is not None


def capture_content() -> bool:
    return bool(settings.OTEL_CAPTURE_MESSAGE_CONTENT)


def _now() -> int:
    return time.time_ns()


def _context_of(span):
    from opentelemetry import trace

    return trace.set_span_in_context(span)


# --- The run -------------------------------------------------------------------


def start_run(*, run_id: str, session_id: str, attempt: int, trace_id: str = "") -> str | None:
    """Open the run's span (``invoke_workflow``); return its trace id (32 hex digits), or None when off.

    A run traced by an earlier attempt (``trace_id``) continues that trace.
    """
    if not enabled():
        return None
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    parent = None
    if trace_id:
        try:
            remote = SpanContext(
                trace_id=int(trace_id, 16),
                span_id=int(run_id.replace("-", "")[:16], 16) or 1,
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
            parent = trace.set_span_in_context(NonRecordingSpan(remote))
        except ValueError:
            parent = None
    span = _tracer.start_span(
        "invoke_workflow agents.run",
        context=parent,
        attributes={
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.workflow.name": "agents.run",
            "gen_ai.conversation.id": session_id,
            "agents.run.id": run_id,
            "agents.run.attempt": attempt,
        },
    )
    with _lock:
        _runs[run_id] = RunTrace(span=span)
    return format(span.get_span_context().trace_id, "032x")


def end_run(*, run_id: str, attributes: dict[str, Any] | None = None, error: str = "") -> None:
    """Close the run's span and whatever of it is still open (plan, agents)."""
    with _lock:
        trace_ = _runs.pop(run_id, None)
    if trace_ is None:
        return
    for span in [*trace_.agents.values(), trace_.plan]:
        if span is not None and span.is_recording():
            span.end()
    if attributes:
        trace_.span.set_attributes({key: value for key, value in attributes.items() if value is not None})
    if error:
        _set_error(trace_.span, error)
    trace_.span.end()


def _set_error(span, code: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("error.type", code)
    span.set_status(Status(StatusCode.ERROR, code))


# --- Agents and the plan ---------------------------------------------------------------


def _agent_span(run_id: str, *, agent_id: str, role: str, model: str):
    """Return the agent's open span, opening it (under the run, or the plan for an executor) on first use."""
    with _lock:
        trace_ = _runs.get(run_id)
        if trace_ is None:
            return None
        span = trace_.agents.get(agent_id)
        if span is not None:
            return span
        parent = trace_.span
        if role == "executor":
            if trace_.plan is None:
                planner = next(iter(trace_.agents.values()), None)
                trace_.plan = _tracer.start_span(
                    "plan",
                    context=_context_of(planner or trace_.span),
                    attributes={"gen_ai.operation.name": "plan", "agents.run.id": run_id},
                )
            parent = trace_.plan
        span = _tracer.start_span(
            f"invoke_agent {role}",
            context=_context_of(parent),
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": role,
                "gen_ai.agent.id": agent_id,
                "gen_ai.request.model": model,
                "gen_ai.provider.name": PROVIDER_NAME,
            },
        )
        trace_.agents[agent_id] = span
        return span


def open_agent(*, run_id: str, agent_id: str, role: str, model: str) -> None:
    """Open an agent's span if it is not open yet (at its first model call), so it starts before its calls."""
    if enabled():
        _agent_span(run_id, agent_id=agent_id, role=role, model=model)


def end_agent(*, run_id: str, agent_id: str, status: str = "", duration_ms: int | None = None) -> None:
    """Close an agent's span (an executor that finished its step)."""
    with _lock:
        trace_ = _runs.get(run_id)
        span = trace_.agents.pop(agent_id, None) if trace_ is not None else None
    if span is None:
        return
    if status:
        span.set_attribute("agents.execution.status", status)
        if status != "completed":
            _set_error(span, status)
    span.end()


# --- Model calls and tools -------------------------------------------------------------


def record_chat(
    *,
    run_id: str,
    agent_id: str,
    role: str,
    request_model: str,
    response_model: str,
    latency_ms: int,
    first_token_ms: int | None,
    finish_reason: str | None,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int,
    cost_usd: float,
    error: str = "",
    messages: list[dict] | None = None,
    output: dict | None = None,
) -> None:
    """Write one model call's span (``chat <model>``) under its agent, ending now and starting ``latency_ms`` ago."""
    if not enabled():
        return
    parent = _agent_span(run_id, agent_id=agent_id, role=role, model=request_model)
    if parent is None:
        return
    end = _now()
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDER_NAME,
        "gen_ai.request.model": request_model,
        "gen_ai.response.model": response_model or request_model,
        "gen_ai.usage.input_tokens": prompt_tokens,
        "gen_ai.usage.output_tokens": completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": cached_tokens,
        "gen_ai.response.finish_reasons": [finish_reason] if finish_reason else [],
        "agents.cost_usd": cost_usd,
    }
    if first_token_ms is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = first_token_ms / 1000
    if capture_content() and messages is not None:
        attributes["gen_ai.input.messages"] = json.dumps(messages, default=str)
        if output is not None:
            attributes["gen_ai.output.messages"] = json.dumps([output], default=str)
    span = _tracer.start_span(
        f"chat {request_model}",
        context=_context_of(parent),
        start_time=end - max(0, latency_ms) * 1_000_000,
        attributes=attributes,
    )
    if error:
        _set_error(span, error)
    span.end(end_time=end)


@contextmanager
def tool_span(
    *, run_id: str, agent_id: str, role: str, model: str, tool: str, call_id: str, arguments: str
) -> Iterator:
    """Trace one tool call (``execute_tool <tool>``); the body reports its outcome through the yielded callable."""
    if not enabled():
        yield lambda **_: None
        return
    parent = _agent_span(run_id, agent_id=agent_id, role=role, model=model)
    if parent is None:
        yield lambda **_: None
        return
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.type": "function",
    }
    if capture_content():
        attributes["gen_ai.tool.call.arguments"] = arguments
    span = _tracer.start_span(f"execute_tool {tool}", context=_context_of(parent), attributes=attributes)

    def outcome(*, ok: bool, error_code: str = "", result: Any = None) -> None:
        if ok and capture_content():
            span.set_attribute("gen_ai.tool.call.result", json.dumps(result, default=str))
        if not ok:
            _set_error(span, error_code or "tool_error")

    try:
        yield outcome
    finally:
        span.end()
