"""The built-in tools: behaviour, limits, and that each sees only the run's user's rows."""

import builtins
import datetime
import json
import math
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from agents.models import Agent, Memory
from agents.runs import services
from agents.tools import ToolContext, dispatch, schemas
from agents.tools import registry as registry_module
from sessions import services as session_services
from sessions.models import ChatSession, Message
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def make_context(user, role: str = Agent.Role.PLANNER, message: str = "hello") -> ToolContext:
    run = make_run(user, message)
    return ToolContext.for_agent(services.agent_create(run=run, role=role, model="m"))


def call(ctx: ToolContext, name: str, **arguments):
    return dispatch(ctx, name, json.dumps(arguments))


@pytest.fixture
def alice_ctx(user):
    return make_context(user)


@pytest.fixture
def alice_executor_ctx(user):
    return make_context(user, Agent.Role.EXECUTOR)


@pytest.fixture
def mallory_ctx(other_user):
    return make_context(other_user)


def test_builtins_are_registered_with_their_kinds():
    kinds = {name: registry_module.get(name).kind for name in registry_module.default_registry.names()}
    assert {name: kind for name, kind in kinds.items() if name in BUILTINS} == BUILTINS
    read_only = {s["function"]["name"] for s in schemas(permission="read_only")}
    assert read_only & set(BUILTINS) == {"get_current_time", "calculate", "search_history", "recall"}


BUILTINS = {
    "get_current_time": "read",
    "calculate": "read",
    "search_history": "read",
    "recall": "read",
    "remember": "write",
    "forget": "write",
    "rename_session": "write",
}


# --- get_current_time ----------------------------------------------------------


def test_current_time_defaults_to_utc(alice_executor_ctx):
    before = timezone.now().replace(microsecond=0)
    outcome = call(alice_executor_ctx, "get_current_time")
    after = timezone.now()
    assert outcome.ok, outcome.error
    moment = datetime.datetime.fromisoformat(outcome.result["iso"])
    assert before <= moment <= after
    assert (outcome.result["timezone"], outcome.result["utc_offset"]) == ("UTC", "+00:00")
    assert outcome.result["weekday"] == moment.strftime("%A")
    assert outcome.result["date"] == moment.date().isoformat()
    assert outcome.result["time"] == moment.strftime("%H:%M:%S")
    assert abs(outcome.result["unix_time"] - moment.timestamp()) < 1


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata", "America/New_York"])
def test_current_time_in_a_named_zone(alice_ctx, zone):
    outcome = call(alice_ctx, "get_current_time", timezone=zone)
    assert outcome.ok, outcome.error
    moment = datetime.datetime.fromisoformat(outcome.result["iso"])
    expected = moment.astimezone(ZoneInfo(zone))
    assert moment.utcoffset() == expected.utcoffset()
    assert outcome.result["timezone"] == zone
    assert outcome.result["iso"].endswith(outcome.result["utc_offset"])
    if zone == "Asia/Kolkata":
        assert outcome.result["utc_offset"] == "+05:30"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "utc+2", "../../etc/passwd", "/etc/localtime", "Europe", "x" * 300])
def test_current_time_refuses_an_unknown_zone(alice_ctx, zone):
    outcome = call(alice_ctx, "get_current_time", timezone=zone)
    assert (outcome.ok, outcome.error["code"]) == (False, "invalid_timezone")


# --- calculate -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("10 / 4", 2.5),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("-2 ** 2", -4),
        ("- -3 + +2", 5),
        ("1_000 * 3", 3000),
        ("0.1 * 3", 0.1 * 3),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(3.14159, 2)", 3.14),
        ("round(2.5)", 2),
        ("min(3, 1, 2) + max(4, 9)", 10),
        ("floor(2.7) + ceil(2.1)", 5),
        ("log(e) + log10(1000) + log2(8)", 7.0),
        ("2 * pi", math.tau),
        ("2 ** 4000 // 2 ** 3999", 2),
        ("\n(1 +\n 2)\n", 3),
    ],
)
def test_calculate_computes(alice_executor_ctx, expression, expected):
    outcome = call(alice_executor_ctx, "calculate", expression=expression)
    assert outcome.ok, outcome.error
    assert outcome.result == {"expression": expression.strip(), "result": expected}
    assert type(outcome.result["result"]) is type(expected)


def test_calculate_never_uses_eval_or_exec(alice_ctx, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert call(alice_ctx, "calculate", expression="6 * 7").result["result"] == 42


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("__import__('os')", "invalid_expression"),
        ("__import__('os').system('true')", "invalid_expression"),
        ("(1).__class__", "invalid_expression"),
        ("().__class__.__bases__[0].__subclasses__()", "invalid_expression"),
        ("math.pi", "invalid_expression"),
        ("x + 1", "invalid_expression"),
        ("open('/etc/passwd')", "invalid_expression"),
        ("abs(x=1)", "invalid_expression"),
        ("max(*[1, 2])", "invalid_expression"),
        ("sqrt()", "invalid_expression"),
        ("'a' * 10", "invalid_expression"),
        ("'a' * 10 ** 9", "invalid_expression"),
        ("[1, 2]", "invalid_expression"),
        ("1 < 2", "invalid_expression"),
        ("True + 1", "invalid_expression"),
        ("1j * 2", "invalid_expression"),
        ("(lambda: 1)()", "invalid_expression"),
        ("1 if 2 else 3", "invalid_expression"),
        ("2 ^ 3", "invalid_expression"),
        ("1 << 10000", "invalid_expression"),
        ("~1", "invalid_expression"),
        ("round(1, 10 ** 9)", "invalid_expression"),
        ("1 +", "invalid_expression"),
        ("", "invalid_expression"),
        ("1; 2", "invalid_expression"),
        ("1" * 501, "expression_too_long"),
        ("1 + " * 200 + "1", "expression_too_long"),
        ("10 ** 10 ** 10", "result_too_large"),
        ("2 ** 4097", "result_too_large"),
        ("9 ** 9 ** 9 ** 9", "result_too_large"),
        ("(2 ** 4000) * (2 ** 4000)", "result_too_large"),
        ("10.0 ** 400", "result_too_large"),
        ("1e308 * 10", "result_too_large"),
        ("1e999", "result_too_large"),
        ("exp(1000)", "result_too_large"),
        ("2 ** 4000 / 3", "result_too_large"),
        ("1 / 0", "division_by_zero"),
        ("1 // 0", "division_by_zero"),
        ("5 % 0", "division_by_zero"),
        ("1.5 / (2 - 2)", "division_by_zero"),
        ("0 ** -1", "division_by_zero"),
        ("sqrt(-1)", "math_error"),
        ("log(0)", "math_error"),
        ("(-8) ** 0.5", "math_error"),
    ],
)
def test_calculate_refuses(alice_ctx, expression, code):
    started = time.monotonic()
    outcome = call(alice_ctx, "calculate", expression=expression)
    assert (outcome.ok, outcome.error["code"]) == (False, code), outcome.error
    assert outcome.error["message"]
    # Refused before doing the work: generous bound, an actual 10**10**10 would never finish.
    assert time.monotonic() - started < 2


def test_calculate_nested_too_deep_is_refused(alice_ctx):
    outcome = call(alice_ctx, "calculate", expression="(" * 240 + "1" + ")" * 240)
    assert outcome.ok is False
    assert outcome.error["code"] in {"invalid_expression", "expression_too_complex"}


# --- search_history ----------------------------------------------------------------


def _message(session: ChatSession, role: str, content: str, minutes_ago: int) -> Message:
    message = session_services.message_create(session=session, role=role, content=content)
    created = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    Message.objects.filter(pk=message.pk).update(created_at=created)
    return message


@pytest.fixture
def histories(user, other_user):
    trip = session_services.session_create(user=user, title="Trip")
    work = session_services.session_create(user=user, title="Work")
    secret = session_services.session_create(user=other_user, title="Mallory's")
    return {
        "old": _message(trip, Message.Role.USER, "Book a hotel in Paris for May", 30),
        "answer": _message(trip, Message.Role.ASSISTANT, "I found three hotels in PARIS.", 29),
        "new": _message(work, Message.Role.USER, "Meeting with the paris office", 5),
        "other": _message(work, Message.Role.USER, "Nothing relevant", 4),
        "mallory": _message(secret, Message.Role.USER, "My Paris bank password is x", 1),
    }


def test_search_history_finds_the_users_messages_newest_first_across_sessions(user, histories):
    ctx = make_context(user, Agent.Role.EXECUTOR, message="search my history for paris")
    outcome = call(ctx, "search_history", query="paris")
    assert outcome.ok, outcome.error
    results = outcome.result["results"]
    assert [r["message_id"] for r in results] == [str(histories[key].pk) for key in ("new", "answer", "old")]
    assert outcome.result["count"] == 3
    newest = results[0]
    assert newest["session_id"] == str(histories["new"].session_id)
    assert (newest["session_title"], newest["role"]) == ("Work", "user")
    assert results[1]["role"] == "assistant"
    assert newest["snippet"] == "Meeting with the paris office"
    assert datetime.datetime.fromisoformat(newest["created_at"]) < timezone.now()
    # Neither mallory's message nor the question that asked for the search.
    assert all("bank" not in r["snippet"] and "search my" not in r["snippet"] for r in results)


def test_search_history_of_mallory_never_sees_alice(other_user, histories):
    outcome = call(make_context(other_user), "search_history", query="Paris", limit=20)
    assert [r["message_id"] for r in outcome.result["results"]] == [str(histories["mallory"].pk)]


def test_search_history_limit_and_snippet_of_a_long_message(user):
    session = session_services.session_create(user=user, title="Long")
    for index in range(25):
        _message(session, Message.Role.USER, f"needle number {index}", 100 - index)
    long_text = "a" * 500 + " the needle sits here " + "b" * 500
    _message(session, Message.Role.USER, long_text, 1)
    ctx = make_context(user)

    outcome = call(ctx, "search_history", query="NEEDLE", limit=2)
    assert outcome.result["count"] == 2
    snippet = outcome.result["results"][0]["snippet"]
    assert "the needle sits here" in snippet
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) <= 202
    assert outcome.result["results"][1]["snippet"] == "needle number 24"
    # More than the maximum is capped, not refused.
    assert call(ctx, "search_history", query="needle", limit=1000).result["count"] == 20


@pytest.mark.parametrize(
    ("arguments", "mentions"),
    [({"query": "   "}, "'query'"), ({"query": "x" * 201}, "'query'"), ({"query": "x", "limit": 0}, "'limit'")],
)
def test_search_history_refuses_bad_query_or_limit(alice_ctx, arguments, mentions):
    outcome = call(alice_ctx, "search_history", **arguments)
    assert outcome.error["code"] == "invalid_arguments"
    assert mentions in outcome.error["message"]


def test_search_history_treats_like_wildcards_literally(user):
    session = session_services.session_create(user=user, title="T")
    _message(session, Message.Role.USER, "100% sure", 2)
    _message(session, Message.Role.USER, "1000 things", 1)
    outcome = call(make_context(user), "search_history", query="0%")
    assert [r["snippet"] for r in outcome.result["results"]] == ["100% sure"]


# --- recall / remember / forget ------------------------------------------------------


def _memory(user, content: str, minutes_ago: int) -> Memory:
    memory = services.memory_create(user=user, content=content)
    Memory.objects.filter(pk=memory.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago))
    return memory


def test_recall_lists_and_searches_only_the_users_memories(user, other_user, alice_executor_ctx):
    tea = _memory(user, "Likes green tea", 10)
    cat = _memory(user, "Has a cat named Tea Cake", 5)
    _memory(other_user, "Mallory likes tea too", 1)

    listed = call(alice_executor_ctx, "recall")
    assert listed.ok, listed.error
    assert [m["id"] for m in listed.result["memories"]] == [str(cat.pk), str(tea.pk)]
    assert listed.result["memories"][1]["content"] == "Likes green tea"

    searched = call(alice_executor_ctx, "recall", query="GREEN")
    assert [m["id"] for m in searched.result["memories"]] == [str(tea.pk)]
    assert call(alice_executor_ctx, "recall", query="tea", limit=1).result["count"] == 1
    assert call(alice_executor_ctx, "recall", query="mallory").result["count"] == 0
    assert call(alice_executor_ctx, "recall", query=None).result["count"] == 2


def test_remember_saves_a_trimmed_memory_for_the_user(alice_ctx, user, other_user):
    outcome = call(alice_ctx, "remember", content="  Prefers metric units  ")
    assert outcome.ok, outcome.error
    memory = Memory.objects.get(pk=outcome.result["id"])
    assert (memory.user, memory.content) == (user, "Prefers metric units")
    assert not Memory.objects.filter(user=other_user).exists()


@pytest.mark.parametrize("content", ["", "   ", "x" * 2001])
def test_remember_refuses_empty_or_too_long(alice_ctx, content):
    outcome = call(alice_ctx, "remember", content=content)
    assert outcome.error["code"] == "invalid_arguments"
    assert Memory.objects.count() == 0


def test_forget_deletes_the_users_memory(alice_ctx, user):
    memory = _memory(user, "Temporary", 1)
    outcome = call(alice_ctx, "forget", memory_id=str(memory.pk))
    assert outcome.result == {"id": str(memory.pk), "deleted": True}
    assert not Memory.objects.filter(pk=memory.pk).exists()


@pytest.mark.parametrize("whose", ["mallory", "unknown", "malformed"])
def test_forget_of_another_users_or_unknown_memory_is_not_found_and_deletes_nothing(alice_ctx, other_user, user, whose):
    theirs = _memory(other_user, "Mallory's secret", 1)
    mine = _memory(user, "Alice's note", 1)
    memory_id = {"mallory": str(theirs.pk), "unknown": str(uuid.uuid4()), "malformed": "not-a-uuid"}[whose]
    outcome = call(alice_ctx, "forget", memory_id=memory_id)
    assert outcome.ok is False
    assert outcome.error == {"code": "not_found", "message": "There is no memory with that id."}
    assert Memory.objects.filter(pk__in=[theirs.pk, mine.pk]).count() == 2


def test_executor_may_not_forget(alice_executor_ctx, user):
    memory = _memory(user, "Keep me", 1)
    outcome = call(alice_executor_ctx, "forget", memory_id=str(memory.pk))
    assert outcome.error["code"] == "tool_not_allowed"
    assert Memory.objects.filter(pk=memory.pk).exists()


# --- rename_session ------------------------------------------------------------------


def test_rename_session_retitles_the_current_session(alice_ctx):
    outcome = call(alice_ctx, "rename_session", title="  Trip   to Lisbon ")
    assert outcome.result == {"session_id": str(alice_ctx.session.pk), "title": "Trip to Lisbon"}
    assert ChatSession.objects.get(pk=alice_ctx.session.pk).title == "Trip to Lisbon"
    assert alice_ctx.session.title == "Trip to Lisbon"


def test_rename_session_cuts_long_titles_and_refuses_blank_ones(alice_ctx):
    before = ChatSession.objects.get(pk=alice_ctx.session.pk).title
    assert call(alice_ctx, "rename_session", title="   ").error["code"] == "invalid_arguments"
    assert ChatSession.objects.get(pk=alice_ctx.session.pk).title == before
    assert len(call(alice_ctx, "rename_session", title="t" * 500).result["title"]) == 200


def test_rename_session_only_touches_the_runs_own_session(alice_ctx, mallory_ctx):
    mallory_title = ChatSession.objects.get(pk=mallory_ctx.session.pk).title
    # A context whose session is not its user's (a bug elsewhere) must not rename it.
    crossed = ToolContext(user=alice_ctx.user, run=alice_ctx.run, session=mallory_ctx.session, agent=alice_ctx.agent)
    outcome = call(crossed, "rename_session", title="Owned")
    assert outcome.error["code"] == "not_found"
    assert ChatSession.objects.get(pk=mallory_ctx.session.pk).title == mallory_title


def test_executor_may_not_rename(alice_executor_ctx):
    before = ChatSession.objects.get(pk=alice_executor_ctx.session.pk).title
    assert call(alice_executor_ctx, "rename_session", title="New").error["code"] == "tool_not_allowed"
    assert ChatSession.objects.get(pk=alice_executor_ctx.session.pk).title == before
