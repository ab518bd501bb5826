"""The agents admin: read-only history pages that show what a run did, in order, escaped, in bounded queries."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agents.admin.rendering import event_summary, plan_waves
from agents.models import Agent, AgentMessage, Execution, Memory, Plan, PlanStep, Run, RunEvent
from sessions.models import ChatSession, Message

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Hash test passwords cheaply: every test signs in a user, and PBKDF2 would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
EVENT_TYPES = [
    "session",
    "analysis",
    "plan_created",
    "step_start",
    "step_start",
    "executor_result",
    "step_complete",
    "step_complete",
    "text",
    "done",
]


def build_run(user, message: str = "compare the two reports", *, title: str = "Summarise report B") -> Run:
    """Store a finished complex run by hand: a plan of three steps (c waits for a and b), their
    executions, the planner's and executors' conversations with tokens, and ten events."""
    start = timezone.now() - timedelta(minutes=5)
    session = ChatSession.objects.create(user=user, title=f"chat about {message}")
    question = Message.objects.create(session=session, role="user", content=message)
    answer = Message.objects.create(
        session=session,
        role="assistant",
        content="Both reports agree.",
        prompt_tokens=300,
        completion_tokens=60,
        total_tokens=360,
    )
    run = Run.objects.create(
        session=session,
        user=user,
        user_message=question,
        assistant_message=answer,
        status=Run.Status.COMPLETED,
        route=Run.Route.COMPLEX,
        route_reason="needs two lookups and a comparison",
        prompt_tokens=300,
        completion_tokens=60,
        total_tokens=360,
        llm_calls=5,
        started_at=start,
        finished_at=start + timedelta(milliseconds=4321),
    )
    planner = Agent.objects.create(run=run, role="planner", model="planner-model", permission="read_write")
    AgentMessage.objects.create(agent=planner, run=run, role="system", content="You are the planner.")
    AgentMessage.objects.create(agent=planner, run=run, role="user", content=message)
    AgentMessage.objects.create(
        agent=planner,
        run=run,
        role="assistant",
        tool_calls=[{"id": "call_plan", "name": "create_plan", "arguments": '{"objective": "compare"}'}],
        model="planner-model",
        prompt_tokens=120,
        completion_tokens=30,
        latency_ms=812,
        finish_reason="tool_calls",
    )
    AgentMessage.objects.create(
        agent=planner, run=run, role="tool", content='{"ok": true}', tool_call_id="call_plan", tool_name="create_plan"
    )
    plan = Plan.objects.create(run=run, agent=planner, objective="Compare report A with report B")
    steps = {}
    for position, (key, step_title, offset) in enumerate(
        [("a", "Read report A", 100), ("b", title, 150), ("c", "Compare both", 2000)]
    ):
        steps[key] = PlanStep.objects.create(
            plan=plan,
            key=key,
            position=position,
            title=step_title,
            instructions=f"do {key}",
            status=PlanStep.Status.COMPLETED,
            result=f"result of {key}",
            started_at=start + timedelta(milliseconds=offset),
            finished_at=start + timedelta(milliseconds=offset + 500),
        )
    steps["c"].depends_on.add(steps["a"], steps["b"])
    for key, step in steps.items():
        executor = Agent.objects.create(
            run=run, role="executor", model="executor-model", permission="read_only", parent=planner
        )
        AgentMessage.objects.create(agent=executor, run=run, role="user", content=f"task {key}")
        AgentMessage.objects.create(
            agent=executor,
            run=run,
            role="assistant",
            content=f"answer {key}",
            model="executor-model",
            prompt_tokens=60,
            completion_tokens=10,
            latency_ms=300,
        )
        execution = Execution.objects.create(
            run=run,
            step=step,
            agent=executor,
            task=f"task {key}",
            status="completed",
            result=f"executor says {key}",
            prompt_tokens=60,
            completion_tokens=10,
            total_tokens=70,
            llm_calls=1,
        )
        Execution.objects.filter(pk=execution.pk).update(started_at=step.started_at, finished_at=step.finished_at)
    for seq, event_type in enumerate(EVENT_TYPES, start=1):
        data = {"type": event_type, "run_id": str(run.pk), "seq": seq, "ts": f"ts-{seq}", "marker": f"m{seq:02d}"}
        event = RunEvent.objects.create(run=run, seq=seq, type=event_type, data=data)
        RunEvent.objects.filter(pk=event.pk).update(created_at=start + timedelta(milliseconds=seq * 100))
    Run.objects.filter(pk=run.pk).update(last_event_seq=len(EVENT_TYPES))
    return run


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def list_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def listed_ids(admin_client, model, **params) -> set:
    response = admin_client.get(list_url(model), params)
    assert response.status_code == 200, response.content[:500]
    return {obj.pk for obj in response.context["cl"].result_list}


def assert_in_order(html: str, *needles: str) -> None:
    """Assert each needle occurs in the page, each after the previous one."""
    position = -1
    for needle in needles:
        found = html.find(needle, position + 1)
        assert found > position, f"{needle!r} missing or out of order"
        position = found


def section(html: str, start_marker: str, end_marker: str | None = None) -> str:
    start = html.index(start_marker)
    end = html.index(end_marker, start) if end_marker else len(html)
    return html[start:end]


# --- The run page -------------------------------------------------------------


def test_run_page_shows_steps_executions_and_events_in_order_with_plan_graph(admin_client, user):
    run = build_run(user)
    response = admin_client.get(change_url(run))
    assert response.status_code == 200
    html = response.content.decode()

    graph = section(html, 'class="plan-graph"', "</div></div>")
    assert_in_order(graph, "Wave 1", "<strong>a</strong>", "<strong>b</strong>", "Wave 2", "<strong>c</strong>")
    assert "Wave 3" not in graph
    assert_in_order(graph, "<strong>c</strong>", "depends on: a, b", "+2000 ms, took 500 ms", "result of c")

    steps = section(html, 'class="plan-steps-table"', "</table>")
    assert_in_order(steps, "Read report A", "Summarise report B", "Compare both")
    assert "a, b" in steps

    agents = section(html, 'id="agents-group"', 'id="executions-group"')
    assert_in_order(agents, "planner-model", "executor-model", "executor-model", "executor-model")
    assert_in_order(agents, ">150<", ">70<")  # tokens per agent, summed over its conversation

    executions = section(html, 'id="executions-group"', 'id="events-group"')
    assert_in_order(executions, "a: Read report A", "b: Summarise report B", "c: Compare both")
    assert_in_order(executions, "executor says a", "executor says b", "executor says c")
    assert executions.count(">500<") == 3  # each execution's duration in ms

    timeline = section(html, 'id="events-group"')
    assert_in_order(timeline, *[f"ts-{seq}" for seq in range(1, 11)])
    # Each row's data in one line, unfolding to the whole event; the text row shows its text instead.
    assert_in_order(timeline, *[f"marker=m{seq:02d}" for seq in range(1, 11) if seq != 9])
    assert_in_order(timeline, "marker=m08", "1 text event", "marker=m10")
    assert_in_order(timeline, "<details", "&quot;marker&quot;: &quot;m01&quot;")
    # Elapsed ms from the run's start: event seq N was stored N*100 ms after it.
    assert_in_order(timeline, ">100<", ">200<", ">900<", ">1000<")
    assert "run_id=" not in timeline  # envelope fields are left out of the summary

    assert "4321" in html  # duration
    assert_in_order(html, "Prompt tokens", "300", "Completion tokens", "60", "Total tokens", "360")
    assert "needs two lookups and a comparison" in html
    assert "compare the two reports" in html


def test_run_page_of_a_simple_run_without_plan_renders(admin_client, user):
    run = build_run(user)
    Plan.objects.filter(run=run).delete()
    response = admin_client.get(change_url(Run.objects.get(pk=run.pk)))
    assert response.status_code == 200
    assert "no plan: not a complex run" in response.content.decode()


def test_model_output_is_escaped_everywhere(admin_client, user):
    run = build_run(user, message=f"hi {XSS}", title=XSS)
    AgentMessage.objects.filter(run=run, role="assistant").update(content=XSS)
    RunEvent.objects.filter(run=run, type="text").update(data={"delta": XSS})
    Plan.objects.filter(run=run).update(objective=XSS)
    pages = [
        change_url(run),
        change_url(run.plan),
        change_url(run.agents.get(role="planner")),
        list_url(Run) + "?q=hi",
        list_url(RunEvent),
        list_url(Plan),
    ]
    for url in pages:
        html = admin_client.get(url).content.decode()
        assert XSS not in html, url
        assert XSS_ESCAPED in html, url
    graph = section(admin_client.get(change_url(run)).content.decode(), 'class="plan-graph"')
    assert f"<strong>b</strong> {XSS_ESCAPED}" in graph


def test_plan_waves_group_steps_by_dependency_depth_and_survive_a_cycle(user):
    plan = build_run(user).plan
    steps = list(plan.steps.prefetch_related("depends_on").order_by("position"))
    waves, cyclic = plan_waves(steps)
    assert [[step.key for step in wave] for wave in waves] == [["a", "b"], ["c"]]
    assert cyclic == []

    # A cycle cannot come from the planner, but the admin must still show stored data.
    steps[0].depends_on.add(steps[2])
    steps = list(plan.steps.prefetch_related("depends_on").order_by("position"))
    waves, cyclic = plan_waves(steps)
    assert [[step.key for step in wave] for wave in waves] == [["b"]]
    assert [step.key for step in cyclic] == ["a", "c"]


def test_event_summary_leaves_out_the_envelope_and_truncates():
    summary = event_summary({"type": "done", "seq": 3, "ts": "x", "status": "completed", "usage": {"total": 5}})
    assert summary == 'status=completed usage={"total":5}'
    assert len(event_summary({"delta": "x" * 1000})) <= 160


# --- The agent page -----------------------------------------------------------


def test_agent_page_shows_its_conversation_in_order_with_tokens(admin_client, user):
    run = build_run(user)
    planner = run.agents.get(role="planner")
    response = admin_client.get(change_url(planner))
    assert response.status_code == 200
    html = response.content.decode()
    conversation = section(html, 'id="conversation-group"')
    assert_in_order(conversation, "You are the planner.", "compare the two reports", "create_plan", "call_plan")
    assert_in_order(conversation, ">120<", ">30<", ">812<", "planner-model", "tool_calls")
    assert "executor says" not in conversation and "answer a" not in conversation  # only its own messages
    # The agent's totals: one LLM call (assistant row), 150 tokens.
    assert re.search(r"LLM calls.*?<div class=\"readonly\">1</div>", html, re.S)
    assert re.search(r"Tokens.*?<div class=\"readonly\">150</div>", html, re.S)


def test_agent_list_shows_calls_and_tokens_and_filters_by_role_and_model(admin_client, user):
    run = build_run(user)
    response = admin_client.get(list_url(Agent), {"role__exact": "executor"})
    assert response.status_code == 200
    listed = list(response.context["cl"].result_list)
    assert len(listed) == 3 and {agent.role for agent in listed} == {"executor"}
    assert {(agent.llm_call_count, agent.token_count) for agent in listed} == {(1, 70)}
    response = admin_client.get(list_url(Agent), {"model": "planner-model"})
    planner = run.agents.get(role="planner")
    assert [agent.pk for agent in response.context["cl"].result_list] == [planner.pk]
    assert listed_ids(admin_client, Agent, q=str(planner.pk)) == {planner.pk}
    assert listed_ids(admin_client, Agent, q="not-a-uuid") == set()  # a bad id is no match, not a crash


# --- Lists, filters, search ----------------------------------------------------


def test_run_list_filters_and_search(admin_client, user, other_user):
    mine = build_run(user, "how tall is the tower")
    theirs = build_run(other_user, "weather in lisbon")
    Run.objects.filter(pk=theirs.pk).update(
        status=Run.Status.FAILED, route=Run.Route.SIMPLE, error_code="llm", error_message="upstream exploded"
    )
    assert listed_ids(admin_client, Run) == {mine.pk, theirs.pk}
    assert listed_ids(admin_client, Run, q="tall is the") == {mine.pk}
    assert listed_ids(admin_client, Run, q="exploded") == {theirs.pk}
    assert listed_ids(admin_client, Run, q="mallory") == {theirs.pk}
    assert listed_ids(admin_client, Run, q="two lookups") == {mine.pk, theirs.pk}
    assert listed_ids(admin_client, Run, q=str(mine.pk)) == {mine.pk}
    assert listed_ids(admin_client, Run, q="no-such-text") == set()
    assert listed_ids(admin_client, Run, status__exact="failed") == {theirs.pk}
    assert listed_ids(admin_client, Run, route__exact="complex") == {mine.pk}
    assert listed_ids(admin_client, Run, user__id__exact=str(user.pk)) == {mine.pk}
    today = timezone.localdate()
    by_day = {"created_at__year": today.year, "created_at__month": today.month, "created_at__day": today.day}
    assert listed_ids(admin_client, Run, **by_day) == {mine.pk, theirs.pk}
    assert listed_ids(admin_client, Run, created_at__year=today.year - 1) == set()
    assert listed_ids(admin_client, Run, o="8") == {mine.pk, theirs.pk}  # sort by the computed duration


def test_other_lists_filter_and_search(admin_client, user, other_user):
    run = build_run(user)
    other = build_run(other_user, "other question")
    Execution.objects.filter(run=other).update(status="failed")
    assert listed_ids(admin_client, Plan, q="report A") == {run.plan.pk, other.plan.pk}
    assert listed_ids(admin_client, Plan, q=str(run.pk)) == {run.plan.pk}
    failed = set(other.executions.values_list("pk", flat=True))
    assert listed_ids(admin_client, Execution, status__exact="failed") == failed
    assert listed_ids(admin_client, Execution, q='"executor says c"') == {
        run.executions.get(step__key="c").pk,
        other.executions.get(step__key="c").pk,
    }
    done_events = set(RunEvent.objects.filter(type="done").values_list("pk", flat=True))
    assert listed_ids(admin_client, RunEvent, type="done") == done_events
    seventh = set(RunEvent.objects.filter(seq=7).values_list("pk", flat=True))
    assert listed_ids(admin_client, RunEvent, q="m07") == seventh
    first = Memory.objects.create(user=user, content="likes green tea")
    Memory.objects.create(user=other_user, content="likes coffee")
    assert listed_ids(admin_client, Memory, q="green") == {first.pk}
    assert listed_ids(admin_client, Memory, user__id__exact=str(user.pk)) == {first.pk}


# --- Read-only history ---------------------------------------------------------


def history_objects(run: Run) -> list:
    return [
        run,
        run.agents.get(role="planner"),
        run.plan,
        run.executions.first(),
        run.events.first(),
    ]


def test_history_refuses_add_change_and_delete(admin_client, user):
    run = build_run(user)
    for obj in history_objects(run):
        model = type(obj)
        opts = model._meta
        add_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        delete_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
        assert admin_client.get(add_url).status_code == 403, model
        assert admin_client.post(add_url, {}).status_code == 403, model
        before = model.objects.filter(pk=obj.pk).values().get()
        assert admin_client.post(change_url(obj), {"status": "failed", "model": "x", "type": "x"}).status_code == 403
        assert model.objects.filter(pk=obj.pk).values().get() == before
        assert admin_client.get(delete_url).status_code == 403, model
        assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403, model
        assert model.objects.filter(pk=obj.pk).exists()
        # The change page is a view: no save button, nothing to type into, here or in an inline.
        html = admin_client.get(change_url(obj)).content.decode()
        assert 'name="_save"' not in html
        assert not re.search(r'<textarea|<select|<input type="(text|number|checkbox)"', html), model
        changelist = admin_client.get(list_url(model)).content.decode()
        assert "delete_selected" not in changelist


def test_memory_may_be_deleted_but_not_added_or_changed(admin_client, user):
    memory = Memory.objects.create(user=user, content="likes green tea")
    assert admin_client.get(reverse("admin:agents_memory_add")).status_code == 403
    assert admin_client.post(change_url(memory), {"content": "likes nothing"}).status_code == 403
    assert Memory.objects.get(pk=memory.pk).content == "likes green tea"
    response = admin_client.post(reverse("admin:agents_memory_delete", args=[memory.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Memory.objects.filter(pk=memory.pk).exists()


def test_staff_without_superuser_cannot_delete_a_memory(client, make_user, user):
    memory = Memory.objects.create(user=user, content="likes green tea")
    staff = make_user("staffer", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="agents"))
    client.force_login(staff)
    assert client.get(change_url(memory)).status_code == 200
    assert client.post(reverse("admin:agents_memory_delete", args=[memory.pk]), {"post": "yes"}).status_code == 403
    assert Memory.objects.filter(pk=memory.pk).exists()


@pytest.mark.parametrize("model", [Run, Agent, Plan, Execution, RunEvent, Memory])
def test_non_staff_and_anonymous_are_sent_to_login(client, make_user, model):
    url = list_url(model)
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    client.force_login(make_user("plain"))
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


# --- Bounded queries -----------------------------------------------------------


def count_queries(admin_client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert admin_client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("model", [Run, Agent, Plan, Execution, RunEvent])
def test_lists_use_the_same_queries_for_3_or_10_runs(admin_client, make_user, django_assert_max_num_queries, model):
    for number in range(3):
        build_run(make_user(f"few{number}"), f"question {number}")
    url = list_url(model)
    few = count_queries(admin_client, url)
    for number in range(7):
        build_run(make_user(f"many{number}"), f"question {number + 3}")
    many = count_queries(admin_client, url)
    assert few == many
    with django_assert_max_num_queries(12):
        assert admin_client.get(url).status_code == 200


def test_run_page_queries_do_not_grow_with_events(admin_client, user):
    run = build_run(user)
    few = count_queries(admin_client, change_url(run))
    for seq in range(11, 61):
        RunEvent.objects.create(run=run, seq=seq, type="text", data={"delta": f"d{seq}"})
    assert count_queries(admin_client, change_url(run)) == few


# --- What operators read: counts, columns, folding, header, seconds ----------------


def test_an_agents_llm_calls_count_its_own_calls_not_history_copies(admin_client, user):
    run = build_run(user)
    planner = run.agents.get(role="planner")
    # Earlier turns of the chat are copied into the planner's conversation as assistant rows without
    # a model: part of what it was sent, not calls it made.
    AgentMessage.objects.create(agent=planner, run=run, role="assistant", content="an earlier answer")
    AgentMessage.objects.create(agent=planner, run=run, role="assistant", content="another earlier answer")

    html = admin_client.get(change_url(planner)).content.decode()
    assert re.search(r"LLM calls.*?<div class=\"readonly\">1</div>", html, re.S)
    listed = {agent.pk: agent for agent in admin_client.get(list_url(Agent)).context["cl"].result_list}
    assert listed[planner.pk].llm_call_count == 1
    run_page = section(admin_client.get(change_url(run)).content.decode(), 'id="agents-group"', 'id="executions-group"')
    planner_row = run_page[: run_page.index("executor-model")]
    assert re.search(r'field-llm_call_count">\s*<p>1</p>', planner_row, re.S)


def test_the_model_column_shows_the_model_that_answered(admin_client, user):
    run = build_run(user)
    planner = run.agents.get(role="planner")
    Agent.objects.filter(pk=planner.pk).update(model="gpt-4o-mini")
    AgentMessage.objects.filter(agent=planner, role="assistant").update(model="offline")

    response = admin_client.get(list_url(Agent))
    html = response.content.decode()
    assert "offline (asked for gpt-4o-mini)" in html
    assert html.count("executor-model") >= 3  # the executors answered with the model they asked for
    run_page = admin_client.get(change_url(run)).content.decode()
    assert "offline (asked for gpt-4o-mini)" in section(run_page, 'id="agents-group"', 'id="executions-group"')
    agent_page = admin_client.get(change_url(planner)).content.decode()
    assert "offline (asked for gpt-4o-mini)" in agent_page


def test_the_runs_list_shows_each_runs_own_message_route_status_tokens_and_seconds(admin_client, user):
    first = build_run(user, "first question of the chat")
    session = first.session
    later_question = Message.objects.create(session=session, role="user", content="a  later\nfollow-up question")
    later = Run.objects.create(
        session=session,
        user=user,
        user_message=later_question,
        status=Run.Status.FAILED,
        route=Run.Route.SIMPLE,
        total_tokens=77,
        llm_calls=1,
        cost_usd=Decimal("0.0123"),
        started_at=timezone.now() - timedelta(seconds=3),
        finished_at=timezone.now(),
    )
    html = admin_client.get(list_url(Run)).content.decode()
    rows = {run_id: section(html, f">{str(run_id)[:8]}<", "</tr>") for run_id in (first.pk, later.pk)}
    assert "first question of the chat" in rows[first.pk]
    assert "a later follow-up question" in rows[later.pk]
    assert "chat about" not in html  # not the session's title
    assert "Complex" in rows[first.pk] and "Simple" in rows[later.pk]
    assert "Completed" in rows[first.pk] and "Failed" in rows[later.pk]
    assert ">360<" in rows[first.pk] and ">77<" in rows[later.pk]
    assert 'field-duration_seconds">4.3<' in rows[first.pk]
    assert 'field-duration_seconds">3.0<' in rows[later.pk]
    assert 'field-cost">$0.0123<' in rows[later.pk], "the run's cost, in dollars"
    assert ">Cost<" in html
    assert "Duration (s)" in html


def test_conversation_rows_wrap_and_tool_calls_are_pretty_printed(admin_client, user):
    run = build_run(user)
    planner = run.agents.get(role="planner")
    AgentMessage.objects.filter(agent=planner, role="assistant").update(
        tool_calls=[{"id": "call_plan", "name": "create_plan", "arguments": '{"objective": "compare", "steps": []}'}]
    )
    html = admin_client.get(change_url(planner)).content.decode()
    conversation = section(html, 'id="conversation-group"')
    assert '<div class="agent-content">You are the planner.</div>' in conversation
    assert "<strong>create_plan</strong>" in conversation
    pretty = (
        '<pre class="tool-calls">{\n  &quot;objective&quot;: &quot;compare&quot;,\n  &quot;steps&quot;: []\n}</pre>'
    )
    assert pretty in conversation
    # A tool's answer, JSON, is indented too.
    assert '<div class="agent-content">{\n  &quot;ok&quot;: true\n}</div>' in conversation
    # The stylesheet that lays these rows out wide and wrapped is on the page.
    assert "agents/admin.css" in html


def test_the_timeline_folds_consecutive_text_events_into_one_row(admin_client, user, django_assert_max_num_queries):
    run = build_run(user)
    RunEvent.objects.filter(run=run).delete()
    kinds = [
        ("analysis", {"strategy": "simple"}),
        *[("text", {"delta": piece}) for piece in ["Hel", "lo ", "wor", "ld", "!"]],
        ("tool_call", {"tool": "calculate"}),
        *[("text", {"delta": piece}) for piece in [" And", " more."]],
        ("done", {"status": "completed"}),
    ]
    for seq, (kind, data) in enumerate(kinds, start=1):
        RunEvent.objects.create(run=run, seq=seq, type=kind, data={"type": kind, "seq": seq, "ts": f"t{seq}", **data})

    with django_assert_max_num_queries(40):
        html = admin_client.get(change_url(run)).content.decode()
    timeline = section(html, 'id="events-group"')
    assert timeline.count('<td class="field-seq">') == 5, "analysis, 5 texts as one, tool_call, 2 texts as one, done"
    assert_in_order(
        timeline,
        "strategy=simple",
        "5 text events, seq 2 to 6: “Hello world!”",
        "<pre>Hello world!</pre>",
        "tool=calculate",
        "2 text events, seq 8 to 9",
        "<pre> And more.</pre>",
        "status=completed",
    )


def test_the_admin_names_the_platform_and_shows_times_to_the_second(admin_client, user):
    run = build_run(user)
    moment = timezone.now().replace(hour=14, minute=5, second=37, microsecond=0)
    Run.objects.filter(pk=run.pk).update(created_at=moment)
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Agents platform administration" in index
    assert "<title>Runs, agents, chats and users | Agents platform admin</title>" in index
    assert "Django administration" not in index
    listing = admin_client.get(list_url(Run)).content.decode()
    assert re.search(r"field-created_at[^>]*>[^<]*14:05:37<", listing), "the list shows seconds"
    page = admin_client.get(change_url(run)).content.decode()
    assert "14:05:37" in page
