"""The session history API: /api/sessions/… (sessions/apis.py) and …/runs/ (agents/history_apis.py)."""

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agents import events
from agents.events import catalogue
from agents.models import Agent, Execution, Plan, PlanStep, Run, RunEvent
from agents.runs.services import agent_create, run_finish
from sessions import services
from sessions.models import ChatSession, Message
from tests.factories import make_plan, make_run

pytestmark = pytest.mark.django_db

RACE_TRIES = 50

SESSION_FIELDS = {
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
MESSAGE_FIELDS = {
    "id",
    "role",
    "content",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "created_at",
}
ID_ROUTES = [
    ("get", "/api/sessions/{}/"),
    ("patch", "/api/sessions/{}/"),
    ("delete", "/api/sessions/{}/"),
    ("get", "/api/sessions/{}/messages/"),
    ("get", "/api/sessions/{}/runs/"),
]


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "fields"} <= set(body["error"])
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def test_list_shows_only_my_sessions_newest_activity_first_with_counts(api, user, other_user):
    older = services.session_create(user=user, title="older", context_type="ticket", entity_id="T-1")
    newer = services.session_create(user=user, title="newer")
    services.session_create(user=other_user, title="not mine")
    services.message_create(session=older, role=Message.Role.USER, content="hi")
    services.message_create(
        session=older, role=Message.Role.ASSISTANT, content="hello", prompt_tokens=10, completion_tokens=5
    )
    # The older session had the latest activity (its messages), so it comes first.
    ChatSession.objects.filter(pk=newer.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    response = api.get("/api/sessions/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    items = body["results"]
    assert [item["id"] for item in items] == [str(older.pk), str(newer.pk)]
    assert set(items[0]) == SESSION_FIELDS
    assert items[0]["title"] == "older"
    assert items[0]["context_type"] == "ticket"
    assert items[0]["entity_id"] == "T-1"
    assert items[0]["message_count"] == 2
    assert items[0]["total_tokens"] == 15
    assert items[1]["message_count"] == 0
    assert items[1]["total_tokens"] == 0
    assert items[1]["entity_id"] is None


def test_list_search_matches_titles_and_messages_of_my_sessions_only(api, user, other_user):
    lisbon = services.session_create(user=user, title="Trip to Lisbon")
    groceries = services.session_create(user=user, title="Weekly groceries")
    services.message_create(session=groceries, role=Message.Role.USER, content="Buy pastéis de nata for LISBON")
    services.message_create(session=groceries, role=Message.Role.ASSISTANT, content="Noted.")
    services.session_create(user=user, title="Unrelated")
    services.session_create(user=other_user, title="Lisbon too, but not mine")

    found = api.get("/api/sessions/", {"search": "  lisbon "}).json()
    by_message = api.get("/api/sessions/", {"search": "nata"}).json()
    nothing = api.get("/api/sessions/", {"search": "madrid"}).json()
    everything = api.get("/api/sessions/", {"search": ""}).json()

    assert {item["id"] for item in found["results"]} == {str(lisbon.pk), str(groceries.pk)}
    # Matching through a message leaves the counts whole (both messages, not just the matching one).
    assert [item["message_count"] for item in by_message["results"]] == [2]
    assert nothing["count"] == 0
    assert everything["count"] == 3


def test_list_page_size_is_capped_at_100(api, user):
    ChatSession.objects.bulk_create([ChatSession(user=user, title=f"s{n}") for n in range(105)])

    default = api.get("/api/sessions/").json()
    capped = api.get("/api/sessions/?page_size=1000").json()
    small = api.get("/api/sessions/?page_size=2&page=2").json()

    assert default["count"] == 105 and len(default["results"]) == 20
    assert capped["count"] == 105 and len(capped["results"]) == 100
    assert capped["next"] is not None
    assert len(small["results"]) == 2 and small["previous"] is not None


LIST_ROUTES = ["/api/sessions/", "/api/sessions/{}/messages/", "/api/sessions/{}/runs/"]


@pytest.mark.parametrize("template", LIST_ROUTES)
@pytest.mark.parametrize("page_size", ["null", "0", "-1", "abc", "", "1.5", " 5", "5 ", "1_0", "\u0663", "true"])
def test_a_page_size_that_is_not_a_positive_integer_answers_400(api, user, template, page_size):
    session = services.session_create(user=user, title="chat")

    response = api.get(template.format(session.pk), {"page_size": page_size})

    error = assert_error(response, 400, "invalid_page_size")
    assert set(error["fields"]) == {"page_size"}


@pytest.mark.parametrize("template", LIST_ROUTES)
@pytest.mark.parametrize("page", ["0", "-2594", "abc", "", "null", "1_0", "last", "2"])
def test_a_page_that_is_not_a_page_answers_404(api, user, template, page):
    session = services.session_create(user=user, title="chat")

    response = api.get(template.format(session.pk), {"page": page})

    assert_error(response, 404, "not_found")


def test_a_huge_page_size_is_capped_and_a_huge_page_is_404(api, user):
    services.session_create(user=user, title="chat")

    capped = api.get("/api/sessions/", {"page_size": "9" * 5000})
    past = api.get("/api/sessions/", {"page": "9" * 5000})

    assert capped.status_code == 200 and capped.json()["count"] == 1
    assert_error(past, 404, "not_found")


@pytest.mark.parametrize(("method", "template"), ID_ROUTES)
def test_another_users_session_is_404_on_every_route_and_untouched(api, other_user, method, template):
    theirs = services.session_create(user=other_user, title="theirs")
    services.message_create(session=theirs, role=Message.Role.USER, content="secret")

    response = getattr(api, method)(template.format(theirs.pk), {"title": "pwned"}, format="json")

    error = assert_error(response, 404, "session_not_found")
    assert str(theirs.pk) not in response.content.decode()
    assert "secret" not in response.content.decode() and error["fields"] == {}
    theirs.refresh_from_db()
    assert theirs.title == "theirs"


@pytest.mark.parametrize(("method", "template"), ID_ROUTES)
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", str(uuid.uuid4())])
def test_malformed_or_unknown_id_is_a_json_404(api, method, template, bad_id):
    response = getattr(api, method)(template.format(bad_id), {"title": "x"}, format="json")
    assert_error(response, 404, "session_not_found")


@pytest.mark.parametrize(("method", "template"), [("get", "/api/sessions/"), *ID_ROUTES])
def test_unauthenticated_requests_get_the_json_error(user, method, template):
    session = services.session_create(user=user, title="mine")
    response = getattr(APIClient(), method)(template.format(session.pk), {"title": "x"}, format="json")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    session.refresh_from_db()
    assert session.title == "mine"


def test_token_authentication_reads_and_writes(user):
    session = services.session_create(user=user, title="mine")
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert client.get("/api/sessions/").json()["count"] == 1
    response = client.patch(f"/api/sessions/{session.pk}/", {"title": "by token"}, format="json")

    assert response.status_code == 200
    assert response.json()["title"] == "by token"
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert_error(bad.get("/api/sessions/"), 401)


def test_session_cookie_writes_need_the_csrf_token(user):
    session = services.session_create(user=user, title="mine")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    refused = browser.patch(f"/api/sessions/{session.pk}/", {"title": "no csrf"}, content_type="application/json")
    assert_error(refused, 403)
    browser.get("/")  # the chat page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.patch(
        f"/api/sessions/{session.pk}/", {"title": "with csrf"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert accepted.status_code == 200
    session.refresh_from_db()
    assert session.title == "with csrf"


def test_get_one_session_has_the_list_fields(api, user):
    session = services.session_create(user=user, title="mine")
    services.message_create(session=session, role=Message.Role.USER, content="hi", prompt_tokens=3)

    body = api.get(f"/api/sessions/{session.pk}/").json()

    assert set(body) == SESSION_FIELDS
    assert body["id"] == str(session.pk)
    assert body["message_count"] == 1
    assert body["total_tokens"] == 3


def test_patch_changes_the_title_only(api, user, other_user):
    session = services.session_create(user=user, title="old", context_type="general")
    before = ChatSession.objects.get(pk=session.pk)

    response = api.patch(
        f"/api/sessions/{session.pk}/",
        {
            "title": "  new   title ",
            "user": other_user.pk,
            "id": str(uuid.uuid4()),
            "created_at": "2000-01-01T00:00:00Z",
            "context_type": "hacked",
            "entity_id": "X",
            "message_count": 99,
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "new title"
    assert body["id"] == str(session.pk)
    assert body["context_type"] == "general"
    assert body["entity_id"] is None
    assert body["message_count"] == 0
    after = ChatSession.objects.get(pk=session.pk)
    assert after.user_id == user.pk
    assert after.created_at == before.created_at
    assert after.context_type == "general"
    assert after.entity_id is None
    assert after.title == "new title"


def test_patch_without_a_title_changes_nothing(api, user):
    session = services.session_create(user=user, title="kept")
    response = api.patch(f"/api/sessions/{session.pk}/", {"context_type": "other"}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "kept"
    assert response.json()["context_type"] == "general"


@pytest.mark.parametrize(
    ("title", "code"), [("", "invalid_title"), ("   ", "invalid_title"), (None, "invalid"), ("x" * 201, "invalid")]
)
def test_patch_refuses_a_bad_title(api, user, title, code):
    session = services.session_create(user=user, title="kept")

    response = api.patch(f"/api/sessions/{session.pk}/", {"title": title}, format="json")

    error = assert_error(response, 400, code)
    assert "title" in error["fields"]
    session.refresh_from_db()
    assert session.title == "kept"


def test_patch_refuses_a_body_that_is_not_an_object(api, user):
    session = services.session_create(user=user, title="kept")
    assert_error(api.patch(f"/api/sessions/{session.pk}/", ["title"], format="json"), 400)


@pytest.mark.parametrize("body", ["true", "null", '"title"', "1", "[]"])
def test_patch_refuses_a_json_body_that_is_not_an_object_with_invalid_body(api, user, body):
    session = services.session_create(user=user, title="kept")

    response = api.patch(f"/api/sessions/{session.pk}/", body, content_type="application/json")

    assert_error(response, 400, "invalid_body")
    session.refresh_from_db()
    assert session.title == "kept"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=9cc651cd", "--9cc651cd\r\nFalse--9cc651cd--\r\n"),
        ("application/x-www-form-urlencoded", "title=new"),
    ],
)
def test_patch_takes_json_only(api, user, content_type, body):
    session = services.session_create(user=user, title="kept")

    response = api.patch(f"/api/sessions/{session.pk}/", body, content_type=content_type)

    assert_error(response, 415, "unsupported_media_type")
    session.refresh_from_db()
    assert session.title == "kept"


@pytest.mark.parametrize("title", [5, 1.5, True, ["new"], {"text": "new"}])
def test_patch_refuses_a_title_that_is_not_a_string(api, user, title):
    session = services.session_create(user=user, title="kept")

    response = api.patch(f"/api/sessions/{session.pk}/", {"title": title}, format="json")

    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"title"}
    session.refresh_from_db()
    assert session.title == "kept"


def test_patch_limits_the_title_after_trimming(api, user):
    session = services.session_create(user=user, title="kept")
    url = f"/api/sessions/{session.pk}/"

    padded = api.patch(url, {"title": "   " + "x" * 200 + "\n"}, format="json")
    long = api.patch(url, {"title": " " + "y" * 201 + " "}, format="json")

    assert padded.status_code == 200 and padded.json()["title"] == "x" * 200
    assert_error(long, 400, "invalid")
    session.refresh_from_db()
    assert session.title == "x" * 200


@pytest.mark.django_db(transaction=True)
def test_rename_racing_delete_answers_200_or_404_never_500(asgi_live_server, user):
    """PATCH and DELETE of one session at the same moment, 50 times: no 500 whichever wins."""
    patcher, deleter = asgi_live_server.client(user), asgi_live_server.client(user)
    outcomes: Counter = Counter()
    for attempt in range(RACE_TRIES):
        session = services.session_create(user=user, title="before")
        url = f"/api/sessions/{session.pk}/"
        start = threading.Barrier(2)
        statuses: dict[str, int] = {}

        def rename(url=url, attempt=attempt, start=start, statuses=statuses):
            start.wait()
            statuses["patch"] = patcher.http.patch(url, json={"title": f"after {attempt}"}).status_code

        def delete(url=url, start=start, statuses=statuses):
            start.wait()
            statuses["delete"] = deleter.http.delete(url).status_code

        threads = [threading.Thread(target=rename), threading.Thread(target=delete)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert statuses.get("delete") == 204, statuses
        assert statuses.get("patch") in {200, 404}, statuses
        outcomes[statuses["patch"]] += 1
        assert not ChatSession.objects.filter(pk=session.pk).exists()
    assert sum(outcomes.values()) == RACE_TRIES


def test_patch_refuses_json_nested_past_the_recursion_limit(api, user):
    session = services.session_create(user=user, title="kept")
    body = '{"title": ' + "[" * 100_000
    error = assert_error(api.patch(f"/api/sessions/{session.pk}/", body, content_type="application/json"), 400)
    assert error["code"] == "parse_error"
    session.refresh_from_db()
    assert session.title == "kept"


def test_delete_removes_the_session_and_everything_on_it(api, user, other_user):
    run = make_run(user, "compare tea and coffee")
    plan = make_plan(run)
    step = plan.steps.first()
    executor = agent_create(run=run, role=Agent.Role.EXECUTOR, model="m", parent=plan.agent)
    Execution.objects.create(run=run, step=step, agent=executor, task="do a")
    events.emit(run, catalogue.AnalysisEvent(strategy="complex", reason="two things"))
    run_finish(run=run, status=Run.Status.COMPLETED)
    kept_run = make_run(other_user, "not mine")
    events.emit(kept_run, catalogue.AnalysisEvent(strategy="simple", reason="short"))

    response = api.delete(f"/api/sessions/{run.session_id}/")

    assert response.status_code == 204
    assert not ChatSession.objects.filter(pk=run.session_id).exists()
    assert not Message.objects.filter(session_id=run.session_id).exists()
    assert not Run.objects.filter(pk=run.pk).exists()
    assert not Plan.objects.filter(pk=plan.pk).exists()
    assert not PlanStep.objects.filter(plan_id=plan.pk).exists()
    assert not Execution.objects.filter(run_id=run.pk).exists()
    assert not Agent.objects.filter(run_id=run.pk).exists()
    assert not RunEvent.objects.filter(run_id=run.pk).exists()
    assert RunEvent.objects.filter(run_id=kept_run.pk).count() == 1
    assert ChatSession.objects.filter(pk=kept_run.session_id).exists()
    assert_error(api.get(f"/api/sessions/{run.session_id}/"), 404)


def test_messages_are_oldest_first_paginated_with_explicit_fields(api, user):
    session = services.session_create(user=user, title="chat")
    for n in range(3):
        services.message_create(session=session, role=Message.Role.USER, content=f"question {n}")
        services.message_create(
            session=session, role=Message.Role.ASSISTANT, content=f"answer {n}", prompt_tokens=7, completion_tokens=2
        )

    body = api.get(f"/api/sessions/{session.pk}/messages/?page_size=4").json()
    rest = api.get(f"/api/sessions/{session.pk}/messages/?page_size=4&page=2").json()

    assert body["count"] == 6
    contents = [item["content"] for item in body["results"] + rest["results"]]
    assert contents == ["question 0", "answer 0", "question 1", "answer 1", "question 2", "answer 2"]
    first_answer = body["results"][1]
    assert set(first_answer) == MESSAGE_FIELDS
    assert first_answer["role"] == "assistant"
    assert (first_answer["prompt_tokens"], first_answer["completion_tokens"], first_answer["total_tokens"]) == (7, 2, 9)
    assert {item["status"] for item in body["results"] + rest["results"]} == {"complete"}


def test_messages_show_an_answer_cut_off_as_incomplete(api, user):
    session = services.session_create(user=user, title="chat")
    services.message_create(session=session, role=Message.Role.USER, content="tell me a story")
    cut = services.message_create(
        session=session, role=Message.Role.ASSISTANT, content="Once upon a", status=Message.Status.INCOMPLETE
    )

    items = api.get(f"/api/sessions/{session.pk}/messages/").json()["results"]

    assert [(item["role"], item["status"]) for item in items] == [("user", "complete"), ("assistant", "incomplete")]
    assert items[1]["id"] == str(cut.pk) and items[1]["content"] == "Once upon a"


def test_message_status_is_read_only(api, user):
    session = services.session_create(user=user, title="chat")
    services.message_create(session=session, role=Message.Role.ASSISTANT, content="whole answer")

    response = api.patch(f"/api/sessions/{session.pk}/", {"title": "t", "status": "incomplete"}, format="json")

    assert response.status_code == 200
    assert list(Message.objects.filter(session=session).values_list("status", flat=True)) == ["complete"]
    # The messages list is read-only: no method writes a message (or its status) through it.
    assert api.post(f"/api/sessions/{session.pk}/messages/", {"status": "incomplete"}, format="json").status_code == 405


def test_runs_are_newest_first_with_what_a_client_needs_to_rejoin(api, user):
    first = make_run(user, "first")
    answer = services.message_create(session=first.session, role=Message.Role.ASSISTANT, content="done")
    Run.objects.filter(pk=first.pk).update(route=Run.Route.SIMPLE, route_reason="a greeting")
    run_finish(run=first, status=Run.Status.COMPLETED, assistant_message=answer)
    second = make_run(user, "second", session_id=first.session_id)
    events.emit(second, catalogue.AnalysisEvent(strategy="simple", reason="short"))
    make_run(user, "another session")

    response = api.get(f"/api/sessions/{first.session_id}/runs/")

    assert response.status_code == 200
    items = response.json()["results"]
    assert [item["id"] for item in items] == [str(second.pk), str(first.pk)]
    active, finished = items
    assert active["status"] == "queued" and active["is_active"] is True
    assert active["last_event_seq"] == 1
    assert active["user_message_id"] == str(second.user_message_id)
    assert active["assistant_message_id"] is None
    assert finished["status"] == "completed" and finished["is_active"] is False
    assert finished["assistant_message_id"] == str(answer.pk)
    # Enough to draw the turn after a reload: its route and why, usage, error, duration.
    assert (finished["route"], finished["route_reason"]) == ("simple", "a greeting")
    assert {"total_tokens", "llm_calls", "error_code", "error_message", "duration_ms"} <= set(finished)
    assert "idempotency_key" not in active and "request_hash" not in active and "user" not in active
    assert "worker" not in active and "reserved_tokens" not in active


def test_session_detail_is_one_query_with_its_usage(user, django_assert_num_queries):
    from rest_framework.test import APIClient

    from sessions import services

    session = services.session_create(user=user, title="t")
    services.message_create(session=session, role="user", content="hi", prompt_tokens=3, completion_tokens=4)
    client = APIClient()
    client.force_authenticate(user)
    with django_assert_num_queries(1):
        body = client.get(f"/api/sessions/{session.pk}/").json()
    assert (body["message_count"], body["total_tokens"]) == (1, 7)
