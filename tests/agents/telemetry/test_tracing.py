"""OpenTelemetry traces of runs, captured with the SDK's in-memory exporter."""

import json

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.models import Agent, Run
from agents.telemetry import tracing
from tests.factories import run_message
from tests.support.stub_model import Text, ToolCalls, has_tool_results, is_executor, is_routing, last_user_text, plan

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_QUESTION = "Which is better for my llama, tea or coffee?"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.use_exporter(exporter)
    yield exporter
    tracing.reset()


def scripted(stub_model) -> None:
    """A plan of two steps; step x calls calculate, then answers; then the synthesis."""
    routing = plan("Compare", [("x", "Count tea"), ("y", "Count coffee", ["x"])])
    routing.usage = (120, 30)

    def reply(request):
        if is_routing(request):
            return routing
        if is_executor(request):
            if last_user_text(request).startswith("Step: Count tea") and not has_tool_results(request):
                return ToolCalls([("calculate", {"expression": "6*7"})], usage=(50, 8))
            return Text(f"Done: {last_user_text(request).splitlines()[0]}", usage=(60, 9))
        return Text("Tea, 42 cups.", usage=(80, 12))

    stub_model.responder = reply


def test_a_run_is_one_trace_shaped_like_its_plan(spans, user, stub_model):
    scripted(stub_model)
    run = run_message(user, SECRET_QUESTION)
    assert run.status == Run.Status.COMPLETED, run.error_message
    finished = spans.get_finished_spans()
    assert {format(span.context.trace_id, "032x") for span in finished} == {run.trace_id}
    by_id = {span.context.span_id: span for span in finished}

    def parent(span):
        return by_id.get(span.parent.span_id) if span.parent else None

    (root,) = [span for span in finished if span.parent is None]
    assert root.name == "invoke_workflow agents.run"
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["agents.run.id"] == str(run.pk)
    assert root.attributes["agents.run.status"] == "completed" and root.attributes["agents.run.route"] == "complex"
    assert root.attributes["gen_ai.conversation.id"] == str(run.session_id)
    assert root.attributes["agents.cost_usd"] == float(run.cost_usd)

    planner = Agent.objects.get(run=run, role="planner")
    (planner_span,) = [span for span in finished if span.name == "invoke_agent planner"]
    assert parent(planner_span) is root and planner_span.attributes["gen_ai.agent.id"] == str(planner.pk)
    (plan_span,) = [span for span in finished if span.name == "plan"]
    assert parent(plan_span) is planner_span
    executors = [span for span in finished if span.name == "invoke_agent executor"]
    assert len(executors) == 2 and all(parent(span) is plan_span for span in executors)
    assert {span.attributes["agents.execution.status"] for span in executors} == {"completed"}

    chats = [span for span in finished if span.name.startswith("chat ")]
    assert len(chats) == run.llm_calls == 5
    assert sum(1 for span in chats if parent(span) is planner_span) == 2  # routing and synthesis
    assert sum(1 for span in chats if parent(span) in executors) == 3
    routing = min(chats, key=lambda span: span.start_time)
    assert routing.name == "chat gpt-4o-mini"
    assert routing.attributes["gen_ai.operation.name"] == "chat"
    assert routing.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert routing.attributes["gen_ai.provider.name"] == "openai"
    assert (routing.attributes["gen_ai.usage.input_tokens"], routing.attributes["gen_ai.usage.output_tokens"]) == (
        120,
        30,
    )
    assert tuple(routing.attributes["gen_ai.response.finish_reasons"]) == ("tool_calls",)
    assert (
        0 <= routing.attributes["gen_ai.response.time_to_first_chunk"] <= (routing.end_time - routing.start_time) / 1e9
    )
    assert routing.start_time >= planner_span.start_time

    (tool,) = [span for span in finished if span.name.startswith("execute_tool")]
    assert tool.name == "execute_tool calculate" and parent(tool) in executors
    assert tool.attributes["gen_ai.tool.name"] == "calculate" and tool.attributes["gen_ai.tool.call.id"]
    for span in finished:
        assert root.start_time <= span.start_time and span.end_time <= root.end_time, span.name

    # No prompt or completion text unless asked for.
    everything = json.dumps([dict(span.attributes) for span in finished])
    assert "llama" not in everything and "6*7" not in everything and "42 cups" not in everything
    assert not any("gen_ai.input.messages" in span.attributes for span in finished)


def test_message_content_is_recorded_only_when_enabled(spans, settings, user, stub_model):
    settings.OTEL_CAPTURE_MESSAGE_CONTENT = True
    scripted(stub_model)
    run = run_message(user, SECRET_QUESTION)
    assert run.status == Run.Status.COMPLETED
    finished = spans.get_finished_spans()
    routing = min((span for span in finished if span.name.startswith("chat ")), key=lambda span: span.start_time)
    assert "llama" in routing.attributes["gen_ai.input.messages"]
    assert "create_plan" in routing.attributes["gen_ai.output.messages"]
    (tool,) = [span for span in finished if span.name.startswith("execute_tool")]
    assert "6*7" in tool.attributes["gen_ai.tool.call.arguments"] and "42" in tool.attributes["gen_ai.tool.call.result"]


def test_a_failed_call_marks_its_span_and_the_run(spans, user, stub_model):
    from tests.support.stub_model import Error

    stub_model.queue(Error(400, "no"))
    run = run_message(user, "hi")
    assert run.status == Run.Status.FAILED
    finished = spans.get_finished_spans()
    (chat,) = [span for span in finished if span.name.startswith("chat ")]
    assert chat.attributes["error.type"] == "bad_request" and not chat.status.is_ok
    (root,) = [span for span in finished if span.parent is None]
    assert root.attributes["error.type"] == "bad_request"


def test_tracing_is_off_without_an_exporter(user, stub_model):
    tracing.reset()
    assert not tracing.enabled()
    stub_model.queue(Text("Hi."))
    run = run_message(user, "hi")
    assert run.status == Run.Status.COMPLETED and run.trace_id == ""


def test_spans_reach_an_otlp_collector_named_by_the_standard_variables(settings, monkeypatch, user, stub_model):
    """A stand-in collector on 127.0.0.1 receives the run's spans over OTLP/HTTP (protobuf)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "agents-under-test")
        settings.OTEL_ENABLED, settings.OTEL_TRACES_EXPORTER = True, None
        tracing.reset()
        stub_model.queue(Text("Hi.", usage=(5, 1)))
        run = run_message(user, "hi")
        tracing.reset()  # shuts the provider down: the batch is flushed
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert received and {path for path, _ in received} == {"/v1/traces"}
    names, services_seen, trace_ids = set(), set(), set()
    for _, body in received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            services_seen |= {
                a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
            }
            for scope in resource_spans.scope_spans:
                names |= {span.name for span in scope.spans}
                trace_ids |= {span.trace_id.hex() for span in scope.spans}
    assert names == {"invoke_workflow agents.run", "invoke_agent planner", "chat gpt-4o-mini"}
    assert services_seen == {"agents-under-test"} and trace_ids == {run.trace_id}
