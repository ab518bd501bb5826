"""The tool registry: schemas from hints and docstrings, argument checks, permissions, dispatch outcomes."""

import datetime
import logging
import uuid
from typing import Literal, Optional

import pytest

from agents.exceptions import InvalidInput
from agents.models import Agent, Memory
from agents.runs import services
from agents.tools import ToolContext, ToolError, ToolOutcome, ToolRegistry, dispatch, schemas, tool
from agents.tools import calls as calls_module
from agents.tools import registry as registry_module
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def make_context(user, role: str = Agent.Role.PLANNER) -> ToolContext:
    run = make_run(user)
    return ToolContext.for_agent(services.agent_create(run=run, role=role, model="m"))


@pytest.fixture
def planner_ctx(user):
    return make_context(user)


@pytest.fixture
def executor_ctx(user):
    return make_context(user, Agent.Role.EXECUTOR)


@pytest.fixture
def local():
    """A registry of its own, so a test's tools never leak into the global one."""
    return ToolRegistry()


class Spy:
    """Record every call a tool gets."""

    def __init__(self):
        self.calls = []


@pytest.fixture
def spy_tool(local):
    spy = Spy()

    @local.tool(kind="read")
    def lookup(
        ctx: ToolContext,
        query: str,
        limit: int = 5,
        ratio: float = 1.0,
        exact: bool = False,
        mode: Literal["fast", "slow"] = "fast",
        tags: list[str] | None = None,
        note: str | None = None,
    ) -> dict:
        """Look something up."""
        spy.calls.append({"query": query, "limit": limit, "ratio": ratio, "exact": exact, "mode": mode})
        spy.calls[-1].update(tags=tags, note=note)
        return {"found": query}

    return spy


# --- Schemas -------------------------------------------------------------------


def test_schema_is_built_from_type_hints_defaults_and_google_docstring(local):
    @local.tool(kind="read")
    def find_flights(
        ctx: ToolContext,
        origin: str,
        passengers: int,
        max_price: float | None = None,
        direct: bool = True,
        cabin: Literal["economy", "business"] = "economy",
        airlines: list[str] | None = None,
        note: Optional[str] = None,  # noqa: UP045 (the old spelling must work too)
        days: list[int] = [1, 2],  # noqa: B006 (never mutated; a list default must render)
    ) -> dict:
        """Find flights leaving an airport
        on a given day.

        Longer explanation that is not part of the description.

        Args:
            origin: IATA code of the airport,
                e.g. "CDG".
            passengers (int): How many people travel.
            max_price: Highest price in euros.
            cabin: Which cabin.

        Returns:
            The flights found.
        """
        return {}

    assert local.schemas(permission="read_only") == [
        {
            "type": "function",
            "function": {
                "name": "find_flights",
                "description": "Find flights leaving an airport on a given day.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "origin": {"description": 'IATA code of the airport, e.g. "CDG".', "type": "string"},
                        "passengers": {"description": "How many people travel.", "type": "integer"},
                        "max_price": {"description": "Highest price in euros.", "type": ["number", "null"]},
                        "direct": {"type": "boolean", "default": True},
                        "cabin": {
                            "description": "Which cabin.",
                            "type": "string",
                            "enum": ["economy", "business"],
                            "default": "economy",
                        },
                        "airlines": {"type": ["array", "null"], "items": {"type": "string"}},
                        "note": {"type": ["string", "null"]},
                        "days": {"type": "array", "items": {"type": "integer"}, "default": [1, 2]},
                    },
                    "required": ["origin", "passengers"],
                    "additionalProperties": False,
                },
            },
        }
    ]


def test_name_override_optional_enum_and_write_kind(local):
    @local.tool(kind="write", name="set-level")
    def set_level(ctx: ToolContext, level: Literal[1, 2, 3] | None) -> dict:
        """Set the level."""
        return {"level": level}

    schema = local.schemas(permission="read_write")[0]["function"]
    assert schema["name"] == "set-level"
    assert schema["parameters"]["properties"]["level"] == {"type": ["integer", "null"], "enum": [1, 2, 3, None]}
    # `T | None` without a default is optional: left out, the function gets None.
    assert schema["parameters"]["required"] == []
    assert local.get("set-level").kind == "write"
    assert local.get("set_level") is None


def test_schemas_for_read_only_leave_out_write_tools_and_are_copies(local):
    @local.tool(kind="read")
    def peek(ctx: ToolContext, tags: list[str]) -> list:
        """Peek."""
        return tags

    @local.tool(kind="write")
    def poke(ctx: ToolContext) -> None:
        """Poke."""

    assert [s["function"]["name"] for s in local.schemas(permission="read_only")] == ["peek"]
    assert [s["function"]["name"] for s in local.schemas(permission="read_write")] == ["peek", "poke"]
    offered = local.schemas(permission="read_only")
    offered[0]["function"]["parameters"]["properties"]["tags"]["items"]["type"] = "integer"
    assert local.schemas(permission="read_only")[0]["function"]["parameters"]["properties"]["tags"]["items"] == {
        "type": "string"
    }
    with pytest.raises(ValueError, match="unknown permission"):
        local.schemas(permission="admin")


def test_permission_names_match_the_agent_model():
    assert registry_module.READ_ONLY == Agent.Permission.READ_ONLY
    assert registry_module.READ_WRITE == Agent.Permission.READ_WRITE


def _no_docstring(ctx: ToolContext, x: str) -> str:
    return x


def _dict_hint(ctx: ToolContext, x: dict) -> str:
    """Doc."""
    return ""


def _bare_list(ctx: ToolContext, x: list) -> str:
    """Doc."""
    return ""


def _two_types(ctx: ToolContext, x: int | str) -> str:
    """Doc."""
    return ""


def _no_hint(ctx: ToolContext, x) -> str:
    """Doc."""
    return ""


def _bad_default(ctx: ToolContext, x: int = "five") -> str:
    """Doc."""
    return ""


def _none_default_without_optional(ctx: ToolContext, x: str = None) -> str:  # noqa: RUF013 (the mistake under test)
    """Doc."""
    return ""


def _varargs(ctx: ToolContext, *names: str) -> str:
    """Doc."""
    return ""


def _no_context() -> str:
    """Doc."""
    return ""


async def _coroutine(ctx: ToolContext) -> str:
    """Doc."""
    return ""


@pytest.mark.parametrize(
    ("function", "kind", "name", "error", "match"),
    [
        (_no_docstring, "read", None, TypeError, "needs a docstring"),
        (_dict_hint, "read", None, TypeError, "unsupported type"),
        (_bare_list, "read", None, TypeError, "unsupported type"),
        (_two_types, "read", None, TypeError, "only supported union"),
        (_no_hint, "read", None, TypeError, "needs a type hint"),
        (_bad_default, "read", None, TypeError, "does not match"),
        (_none_default_without_optional, "read", None, TypeError, "does not match"),
        (_varargs, "read", None, TypeError, r"\*args"),
        (_no_context, "read", None, TypeError, "first parameter must be the ToolContext"),
        (_coroutine, "read", None, TypeError, "plain"),
        (_dict_hint, "admin", None, ValueError, "kind must be"),
        (_dict_hint, "read", "has space", ValueError, "letters, digits"),
    ],
)
def test_a_tool_that_cannot_be_described_is_refused_when_registered(local, function, kind, name, error, match):
    with pytest.raises(error, match=match):
        local.register(function, kind=kind, name=name)
    assert local.names() == []


def test_bare_decorator_is_refused(local):
    with pytest.raises(TypeError, match="@tool"):

        @local.tool
        def nothing(ctx: ToolContext) -> None:
            """Nothing."""


def test_same_name_twice_is_an_error(local):
    @local.tool(kind="read")
    def twice(ctx: ToolContext) -> str:
        """First."""
        return "first"

    with pytest.raises(ValueError, match="already registered"):

        @local.tool(kind="write", name="twice")
        def other(ctx: ToolContext) -> str:
            """Second."""
            return "second"

    assert local.get("twice").function is twice


def test_builtin_name_cannot_be_taken_by_a_project_tool():
    with pytest.raises(ValueError, match="already registered"):

        @tool(kind="read")
        def calculate(ctx: ToolContext, expression: str) -> str:
            """Pretend to calculate."""
            return "42"

    assert registry_module.get("calculate").function.__module__ == "agents.tools.builtin"


def test_project_tool_added_with_the_decorator_is_offered_and_dispatched(planner_ctx, executor_ctx):
    try:

        @tool(kind="read")
        def shout(ctx: ToolContext, text: str, times: int = 1) -> dict:
            """Repeat text loudly.

            Args:
                text: What to shout.
            """
            return {"user": ctx.user.username, "shout": " ".join([text.upper()] * times)}

        assert "shout" in [s["function"]["name"] for s in schemas(permission="read_only")]
        outcome = dispatch(executor_ctx, "shout", '{"text": "hi", "times": 2}')
        assert outcome.ok and outcome.result == {"user": "alice", "shout": "HI HI"}
    finally:
        registry_module.unregister("shout")
    assert "shout" not in [s["function"]["name"] for s in schemas(permission="read_write")]
    assert dispatch(planner_ctx, "shout", '{"text": "hi"}').error["code"] == "unknown_tool"


# --- Arguments -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "mentions"),
    [
        ("{not json", "not valid JSON"),
        ('{"query": "a"', "not valid JSON"),
        ('["query"]', "must be a JSON object, got array"),
        ('"query"', "must be a JSON object, got string"),
        ("null", "must be a JSON object, got null"),
        ("{}", "Missing required argument 'query'"),
        ('{"limit": 3}', "Missing required argument 'query'"),
        ('{"query": "a", "colour": "red"}', "Unknown argument 'colour'"),
        ('{"query": 5}', "'query' must be a string, got integer"),
        ('{"query": null}', "'query' must be a string, got null"),
        ('{"query": "a", "limit": "5"}', "'limit' must be an integer, got string"),
        ('{"query": "a", "limit": 5.0}', "'limit' must be an integer, got number"),
        ('{"query": "a", "limit": 2.5}', "'limit' must be an integer, got number"),
        ('{"query": "a", "limit": true}', "'limit' must be an integer, got boolean"),
        ('{"query": "a", "ratio": "0.5"}', "'ratio' must be a number, got string"),
        ('{"query": "a", "ratio": 1e400}', "'ratio' must be a finite number"),
        ('{"query": "a", "ratio": NaN}', "not valid JSON"),
        ('{"query": "a", "exact": 1}', "'exact' must be a boolean, got integer"),
        ('{"query": "a", "exact": "true"}', "'exact' must be a boolean, got string"),
        ('{"query": "a", "mode": "medium"}', '\'mode\' must be one of "fast", "slow"'),
        ('{"query": "a", "tags": "x"}', "'tags' must be an array, got string"),
        ('{"query": "a", "tags": ["x", 2]}', "'tags[1]' must be a string, got integer"),
        ('{"query": "a", "query": "b"}', "duplicate key 'query'"),
        ('{"query": "' + "a" * 70_000 + '"}', "longer than"),
        ("[" * 5000 + "]" * 5000, "not valid JSON"),
        ('{"query": "a\\u0000b"}', "no database stores"),
        ('{"query": "a", "tags": ["\\udc00"]}', "no database stores"),
    ],
)
def test_bad_arguments_are_refused_without_calling_the_tool(local, spy_tool, planner_ctx, arguments, mentions):
    outcome = local.dispatch(planner_ctx, "lookup", arguments)
    assert outcome.ok is False
    assert outcome.error["code"] == "invalid_arguments"
    assert mentions in outcome.error["message"]
    assert spy_tool.calls == []


def test_every_problem_is_named_at_once(local, spy_tool, planner_ctx):
    outcome = local.dispatch(planner_ctx, "lookup", '{"limit": "x", "extra": 1, "more": 2}')
    message = outcome.error["message"]
    assert "Unknown arguments 'extra', 'more'" in message
    assert "Missing required argument 'query'" in message
    assert "'limit' must be an integer" in message
    assert spy_tool.calls == []


def test_non_string_arguments_are_refused(local, spy_tool, planner_ctx):
    outcome = local.dispatch(planner_ctx, "lookup", {"query": "a"})
    assert outcome.error["code"] == "invalid_arguments"
    assert spy_tool.calls == []


def test_good_arguments_reach_the_tool_with_defaults_nones_and_int_widened_to_float(local, spy_tool, planner_ctx):
    outcome = local.dispatch(planner_ctx, "lookup", '{"query": "a", "ratio": 2, "tags": ["x"], "note": null}')
    assert outcome == ToolOutcome(ok=True, result={"found": "a"}, duration_ms=outcome.duration_ms)
    call = spy_tool.calls[-1]
    assert call == {
        "query": "a",
        "limit": 5,
        "ratio": 2.0,
        "exact": False,
        "mode": "fast",
        "tags": ["x"],
        "note": None,
    }
    assert type(call["ratio"]) is float


def test_empty_arguments_mean_no_arguments(local, planner_ctx):
    @local.tool(kind="read")
    def ping(ctx: ToolContext, echo: str | None) -> dict:
        """Ping."""
        return {"echo": echo}

    assert local.dispatch(planner_ctx, "ping", "").result == {"echo": None}
    assert local.dispatch(planner_ctx, "ping", "  ").result == {"echo": None}
    assert local.dispatch(planner_ctx, "ping", '{"echo": "x"}').result == {"echo": "x"}


# --- Dispatch ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nope", "", "x" * 500, None])
def test_unknown_tool(planner_ctx, name):
    outcome = dispatch(planner_ctx, name, "{}")
    assert outcome.ok is False
    assert outcome.error["code"] == "unknown_tool"
    assert len(outcome.error["message"]) < 120


def test_write_tool_is_refused_to_a_read_only_agent_before_anything_runs(local, executor_ctx, planner_ctx):
    calls = []

    @local.tool(kind="write")
    def wipe(ctx: ToolContext, target: str) -> str:
        """Wipe something."""
        calls.append(target)
        return "wiped"

    # Not offered to the executor, and refused even when named anyway — with bad arguments too.
    assert local.schemas(permission=executor_ctx.agent.permission) == []
    for arguments in ('{"target": "all"}', "{broken"):
        outcome = local.dispatch(executor_ctx, "wipe", arguments)
        assert outcome.ok is False
        assert outcome.error["code"] == "tool_not_allowed"
    assert calls == []
    assert local.dispatch(planner_ctx, "wipe", '{"target": "all"}').result == "wiped"
    assert calls == ["all"]


def test_builtin_remember_by_executor_is_refused_and_writes_nothing(executor_ctx):
    outcome = dispatch(executor_ctx, "remember", '{"content": "I like tea"}')
    assert (outcome.ok, outcome.error["code"]) == (False, "tool_not_allowed")
    assert Memory.objects.count() == 0


def test_builtin_remember_by_planner_is_saved(planner_ctx, user):
    outcome = dispatch(planner_ctx, "remember", '{"content": "I like tea"}')
    assert outcome.ok, outcome.error
    memory = Memory.objects.get()
    assert (memory.user, memory.content, outcome.result["id"]) == (user, "I like tea", str(memory.pk))


def test_tool_errors_keep_their_code_and_message(local, planner_ctx):
    @local.tool(kind="read")
    def picky(ctx: ToolContext, what: str) -> str:
        """Refuse politely."""
        if what == "tool":
            raise ToolError("out_of_stock", "None left.")
        raise InvalidInput("Bad input.", code="invalid_thing")

    assert local.dispatch(planner_ctx, "picky", '{"what": "tool"}').error == {
        "code": "out_of_stock",
        "message": "None left.",
    }
    assert local.dispatch(planner_ctx, "picky", '{"what": "domain"}').error == {
        "code": "invalid_thing",
        "message": "Bad input.",
    }


def test_unexpected_exception_is_tool_failed_with_a_safe_message_and_a_logged_traceback(local, planner_ctx, caplog):
    @local.tool(kind="read")
    def leaky(ctx: ToolContext) -> str:
        """Fail."""
        raise RuntimeError("password=hunter2")

    with caplog.at_level(logging.ERROR, logger="agents.tools.registry"):
        outcome = local.dispatch(planner_ctx, "leaky", "{}")
    assert outcome.ok is False
    assert outcome.error["code"] == "tool_failed"
    assert "hunter2" not in outcome.error["message"]
    assert "leaky" in outcome.error["message"]
    record = next(r for r in caplog.records if r.name == "agents.tools.registry")
    assert record.exc_info and "hunter2" in str(record.exc_info[1])


def test_failed_write_tool_leaves_no_partial_write(local, planner_ctx, user):
    @local.tool(kind="write")
    def half(ctx: ToolContext) -> str:
        """Write, then fail."""
        services.memory_create(user=ctx.user, content="half done")
        raise ToolError("broke", "Broke half-way.")

    assert local.dispatch(planner_ctx, "half", "{}").error["code"] == "broke"
    assert not Memory.objects.filter(user=user).exists()


def test_results_are_plain_json(local, planner_ctx):
    moment = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")

    @local.tool(kind="read")
    def rich(ctx: ToolContext, kind: Literal["ok", "set", "nan"]) -> object:
        """Return things."""
        return {"ok": {"at": moment, "id": ident, "pair": (1, 2)}, "set": {1, 2}, "nan": float("nan")}[kind]

    assert local.dispatch(planner_ctx, "rich", '{"kind": "ok"}').result == {
        "at": "2024-05-01T12:00:00Z",
        "id": str(ident),
        "pair": [1, 2],
    }
    for kind in ("set", "nan"):
        outcome = local.dispatch(planner_ctx, "rich", f'{{"kind": "{kind}"}}')
        assert (outcome.ok, outcome.error["code"]) == (False, "tool_failed")


def test_duration_is_measured(local, planner_ctx, monkeypatch):
    @local.tool(kind="read")
    def slow(ctx: ToolContext) -> str:
        """Take a while."""
        return "done"

    ticks = iter([10.0, 10.25])
    monkeypatch.setattr(calls_module.time, "perf_counter", lambda: next(ticks))
    outcome = local.dispatch(planner_ctx, "slow", "{}")
    assert (outcome.result, outcome.duration_ms) == ("done", 250)


def test_outcome_as_dict_and_context_for_agent(planner_ctx, user):
    assert ToolOutcome(ok=True, result={"a": 1}, duration_ms=3).as_dict() == {"ok": True, "result": {"a": 1}}
    error = {"code": "x", "message": "y"}
    assert ToolOutcome(ok=False, error=error).as_dict() == {"ok": False, "error": error}
    assert planner_ctx.user == user
    assert planner_ctx.session.pk == planner_ctx.run.session_id
    assert planner_ctx.agent.run_id == planner_ctx.run.pk
