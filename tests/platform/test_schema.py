"""The OpenAPI schema (drf-spectacular + agents_platform/schema.py) and the docs page."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import resolve

from agents.events.catalogue import EVENTS
from agents_platform.schema import trimmed_text_pattern

pytestmark = pytest.mark.django_db

# Every endpoint of docs/api.md that the schema must describe, with its methods.
CONTRACT_OPERATIONS = {
    "/api/agent/stream": {"post"},
    "/api/agent/runs/{run_id}/stream": {"get"},
    "/api/agent/runs/{run_id}/cancel": {"post"},
    "/api/agent/runs/{run_id}": {"get"},
    "/api/sessions/": {"get"},
    "/api/sessions/{session_id}/": {"get", "patch", "delete"},
    "/api/sessions/{session_id}/messages/": {"get"},
    "/api/sessions/{session_id}/runs/": {"get"},
    "/api/usage/": {"get"},
    "/api/stats/": {"get"},
}
CONTRACT_EVENT_TYPES = {
    "session",
    "analysis",
    "plan_created",
    "step_start",
    "executor_spawned",
    "text",
    "tool_call",
    "tool_result",
    "executor_result",
    "step_complete",
    "thinking",
    "retry",
    "approval_required",
    "approval_result",
    "plan_revised",
    "resumed",
    "budget_warning",
    "error",
    "done",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        from drf_spectacular.generators import SchemaGenerator

        return SchemaGenerator().get_schema(request=None, public=True)


def _find_path(schema: dict, path: str) -> dict:
    """Return the path item, whichever trailing-slash style the URLconf uses."""
    paths = schema["paths"]
    for candidate in (path, path.rstrip("/"), path.rstrip("/") + "/"):
        if candidate in paths:
            return paths[candidate]
    raise AssertionError(f"{path} is not in the schema; it has {sorted(paths)}")


def test_spectacular_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(out))
    assert json.loads(out.read_text())["openapi"].startswith("3.")


def test_every_contract_endpoint_is_described(schema):
    for path, methods in CONTRACT_OPERATIONS.items():
        item = _find_path(schema, path)
        assert methods <= set(item), f"{path}: {sorted(item)}"


def test_described_stream_paths_are_real_routes():
    """The hand-written paths must match the URLconf, or the docs describe URLs that 404."""
    run_id = "7d5f1f1e-8c1a-4a55-9c4e-2f5c1d9b7a10"
    assert resolve("/api/agent/stream")
    assert resolve(f"/api/agent/runs/{run_id}/stream")


def test_every_reference_resolves(schema):
    text = json.dumps(schema)
    schemas = schema["components"]["schemas"]
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert refs, "expected references"
    assert refs <= set(schemas), sorted(refs - set(schemas))


def _error_codes(response: dict) -> set[str]:
    """Return the error codes a documented error response lists."""
    detail = response["content"]["application/json"]["schema"]["properties"]["error"]["allOf"]
    assert detail[0]["$ref"].endswith("/ErrorDetail")
    return set(detail[1]["properties"]["code"]["enum"])


def test_stream_endpoint_describes_body_sse_and_errors(schema):
    operation = schema["paths"]["/api/agent/stream"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    request = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert request["required"] == ["message"]
    assert set(request["properties"]) == {
        "message",
        "session_id",
        "context_type",
        "entity_id",
        "multitask",
        "conversation_history",
        "review_plan",
    }
    ok = operation["responses"]["200"]
    assert set(ok["content"]) == {"text/event-stream"}
    stream_schema = ok["content"]["text/event-stream"]["schema"]
    assert [ref["$ref"].rsplit("/", 1)[1] for ref in stream_schema["oneOf"]] == ["RunEventStream", "RunEventFrame"]
    assert {"400", "401", "403", "404", "409", "422", "429"} <= set(operation["responses"])
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert _error_codes(operation["responses"]["409"]) == {"run_active"}
    assert _error_codes(operation["responses"]["422"]) == {"idempotency_key_reused"}
    assert {"invalid_body", "invalid_json", "invalid_message", "invalid_idempotency_key"} <= _error_codes(
        operation["responses"]["400"]
    )
    (key,) = [parameter for parameter in operation["parameters"] if parameter["name"] == "Idempotency-Key"]
    assert key["schema"]["minLength"] == 1 and key["schema"]["maxLength"] == 255

    join = schema["paths"]["/api/agent/runs/{run_id}/stream"]["get"]
    parameters = {parameter["name"]: parameter for parameter in join["parameters"]}
    assert {"run_id", "Last-Event-ID", "last_event_id"} <= set(parameters)
    # The server takes at most 10 digits (agents/http/streams.py LAST_EVENT_ID).
    assert parameters["Last-Event-ID"]["schema"]["maximum"] == parameters["last_event_id"]["schema"]["maximum"]
    assert len(str(parameters["Last-Event-ID"]["schema"]["maximum"])) == 10
    assert "text/event-stream" in join["responses"]["200"]["content"]
    assert _error_codes(join["responses"]["400"]) == {"invalid_last_event_id"}


def test_sse_frames_are_described_as_text_and_as_parsed_frames(schema):
    """The body is SSE text, each frame `id: <seq>` + one `data:` line of JSON that is a RunEvent."""
    schemas = schema["components"]["schemas"]
    stream = schemas["RunEventStream"]
    assert stream["type"] == "string"
    pattern = re.compile(stream["pattern"])
    assert pattern.search('id: 1\ndata: {"type":"session"}\n\n: keep-alive\n\nid: 2\ndata: {}\n\n')
    assert pattern.search("")
    assert not pattern.search('data: {"type":"session"}\n\n'), "a frame without an id"
    assert not pattern.search('id: 1\ndata: {"a":\n"b"}\n\n'), "JSON over two lines"
    frame = schemas["RunEventFrame"]
    assert frame["required"] == ["id", "data"]
    assert frame["properties"]["data"]["x-contentSchema"]["$ref"].endswith("/RunEvent")
    assert re.search(frame["properties"]["id"]["pattern"], "12") and not re.search(
        frame["properties"]["id"]["pattern"], "0"
    )


@pytest.mark.parametrize(
    ("max_chars", "text", "valid"),
    [
        (5, "a", True),
        (5, "  abcde  ", True),  # trimmed: 5
        (5, "abcdef", False),
        (5, "a b\nc", True),
        (5, "   ", False),
        (5, "", False),
        (5, "\x1c\x85\u3000 a", True),  # Python's whitespace, which ECMA's `\s` does not all know
        (5, "a\x00", False),
        (1, " x ", True),
        (1, "xy", False),
    ],
)
def test_trimmed_text_pattern_matches_what_the_server_accepts(max_chars, text, valid):
    stripped = text.strip()
    assert (bool(stripped) and len(stripped) <= max_chars and "\x00" not in text) is valid
    assert bool(re.search(trimmed_text_pattern(max_chars), text)) is valid


def test_every_error_response_lists_its_codes(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert _error_codes(response), f"{method} {path} {status}"


def test_list_parameters_say_what_the_server_takes(schema):
    listing = _find_path(schema, "/api/sessions/")["get"]
    parameters = {parameter["name"]: parameter["schema"] for parameter in listing["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1}
    assert _error_codes(listing["responses"]["400"]) == {"invalid_page_size"}
    assert _error_codes(listing["responses"]["404"]) == {"not_found"}


def test_patch_title_is_described_with_its_limits(schema):
    title = schema["components"]["schemas"]["PatchedSessionUpdate"]["properties"]["title"]
    assert title["type"] == "string"
    assert re.search(title["pattern"], " kept ") and not re.search(title["pattern"], "   ")
    assert not re.search(title["pattern"], "x" * 201)
    patch = _find_path(schema, "/api/sessions/{session_id}/")["patch"]
    assert set(patch["requestBody"]["content"]) == {"application/json"}
    assert {"invalid_body", "invalid_title"} <= _error_codes(patch["responses"]["400"])
    assert "415" in patch["responses"]


def test_runs_list_links_to_the_run_endpoints(schema):
    links = _find_path(schema, "/api/sessions/{session_id}/runs/")["get"]["responses"]["200"]["links"]
    operation_ids = {operation["operationId"] for item in schema["paths"].values() for operation in item.values()}
    assert {link["operationId"] for link in links.values()} <= operation_ids
    assert {link["operationId"] for link in links.values()} == {
        "agent_runs_retrieve",
        "agent_runs_stream_retrieve",
        "agent_runs_cancel_create",
    }


def test_every_contract_event_type_is_a_component(schema):
    schemas = schema["components"]["schemas"]
    run_event = schemas["RunEvent"]
    assert set(run_event["discriminator"]["mapping"]) >= CONTRACT_EVENT_TYPES
    assert set(EVENTS) == CONTRACT_EVENT_TYPES
    base = schemas["RunEventBase"]
    assert set(base["required"]) == {"type", "run_id", "session_id", "seq", "ts"}
    done = schemas["DoneEvent"]["allOf"][1]
    assert done["properties"]["type"]["enum"] == ["done"]
    assert set(done["properties"]["usage"]["properties"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "llm_calls",
        "cost_usd",
        "cost_known",
    }
    warning = schemas["BudgetWarningEvent"]["allOf"][1]
    assert set(warning["required"]) == {"type", "scope", "used_usd", "limit_usd"}
    executor = schemas["ExecutorResultEvent"]["allOf"][1]
    assert {"usage", "duration_ms"} <= set(executor["properties"])
    plan = schemas["PlanCreatedEvent"]["allOf"][1]["properties"]["plan"]
    step = plan["properties"]["steps"]["items"]
    assert set(step["required"]) == {"id", "title", "instructions", "depends_on", "status"}
    # A revised plan's kept steps carry their results (`plan_revised`, the same shape).
    assert set(step["properties"]) == {*step["required"], "key", "result"}


def test_session_api_fields_and_errors_are_explicit(schema):
    schemas = schema["components"]["schemas"]
    assert set(schemas["Session"]["properties"]) == {
        "id",
        "title",
        "context_type",
        "entity_id",
        "created_at",
        "updated_at",
        "message_count",
        "total_tokens",
        "cost_usd",
    }
    assert "user" not in schemas["Message"]["properties"]
    detail = _find_path(schema, "/api/sessions/{session_id}/")
    assert "404" in detail["get"]["responses"] and "400" in detail["patch"]["responses"]
    assert set(detail["delete"]["responses"]) >= {"204", "404"}
    listing = _find_path(schema, "/api/sessions/")["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PaginatedSessionList"
    )


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/agent/stream" in schema.json()["paths"]

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "docs must not load assets from a CDN"
    for asset in re.findall(r"""(?:src|href)=["']/static/([^"'?]+)""", html):
        assert finders.find(asset), f"static asset {asset} is missing"
