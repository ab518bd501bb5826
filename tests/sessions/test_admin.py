"""The chat sessions admin: counts and tokens per session, read-only messages, superuser-only cascading delete."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agents.models import AgentMessage, Run, RunEvent
from sessions.models import ChatSession, Message
from tests.agents.admin.test_runs import build_run

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:chat_sessions_chatsession_changelist")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Hash test passwords cheaply: every test signs in a user, and PBKDF2 would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_session(user, title: str, *, context_type: str = "general", messages: int = 2) -> ChatSession:
    session = ChatSession.objects.create(user=user, title=title, context_type=context_type)
    for number in range(messages):
        role = "user" if number % 2 == 0 else "assistant"
        Message.objects.create(session=session, role=role, content=f"{title} #{number}", total_tokens=10 * number)
    return session


def change_url(session: ChatSession) -> str:
    return reverse("admin:chat_sessions_chatsession_change", args=[session.pk])


def delete_url(session: ChatSession) -> str:
    return reverse("admin:chat_sessions_chatsession_delete", args=[session.pk])


def listed(admin_client, **params) -> list[ChatSession]:
    response = admin_client.get(LIST_URL, params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_list_shows_message_count_and_tokens(admin_client, user):
    make_session(user, "trip planning", messages=3)  # tokens 0 + 10 + 20
    make_session(user, "empty", messages=0)
    rows = {session.title: (session.message_count, session.token_total) for session in listed(admin_client)}
    assert rows == {"trip planning": (3, 30), "empty": (0, 0)}
    html = admin_client.get(LIST_URL).content.decode()
    assert "trip planning" in html and ">30<" in html


def test_list_filters_and_search(admin_client, user, other_user):
    trip = make_session(user, "trip planning", context_type="travel")
    bills = make_session(other_user, "monthly bills", context_type="finance")
    assert {s.pk for s in listed(admin_client, context_type="travel")} == {trip.pk}
    assert {s.pk for s in listed(admin_client, user__id__exact=str(other_user.pk))} == {bills.pk}
    assert {s.pk for s in listed(admin_client, q="planning")} == {trip.pk}
    assert {s.pk for s in listed(admin_client, q="mallory")} == {bills.pk}
    today = timezone.localdate()
    day = {"updated_at__year": today.year, "updated_at__month": today.month, "updated_at__day": today.day}
    assert {s.pk for s in listed(admin_client, **day)} == {trip.pk, bills.pk}
    assert listed(admin_client, updated_at__year=today.year - 1) == []


def test_change_page_shows_messages_in_order_escaped_and_read_only(admin_client, user):
    session = make_session(user, "xss", messages=0)
    Message.objects.create(session=session, role="user", content="first question")
    Message.objects.create(session=session, role="assistant", content="<script>alert(1)</script>")
    response = admin_client.get(change_url(session))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("first question") < html.index("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert "<script>alert(1)</script>" not in html
    assert 'name="_save"' not in html and "<textarea" not in html


def test_sessions_cannot_be_added_or_changed(admin_client, user):
    session = make_session(user, "keep me")
    assert admin_client.get(reverse("admin:chat_sessions_chatsession_add")).status_code == 403
    response = admin_client.post(change_url(session), {"title": "renamed", "context_type": "x"})
    assert response.status_code == 403
    assert ChatSession.objects.get(pk=session.pk).title == "keep me"


def test_superuser_deletes_a_session_with_its_whole_history(admin_client, user):
    run = build_run(user)
    session = run.session
    keep = build_run(user, "another chat")
    confirm = admin_client.get(delete_url(session))
    assert confirm.status_code == 200
    # The run history's own admins refuse deleting it row by row; with the session it must still go.
    assert confirm.context["perms_lacking"] == set()
    response = admin_client.post(delete_url(session), {"post": "yes"})
    assert response.status_code == 302
    assert not ChatSession.objects.filter(pk=session.pk).exists()
    assert not Run.objects.filter(pk=run.pk).exists()
    assert not RunEvent.objects.filter(run_id=run.pk).exists()
    assert not AgentMessage.objects.filter(run_id=run.pk).exists()
    assert Run.objects.filter(pk=keep.pk).exists() and keep.events.count() == 10


def test_superuser_bulk_deletes_sessions_with_history(admin_client, user):
    first, second = build_run(user, "one"), build_run(user, "two")
    response = admin_client.post(
        LIST_URL,
        {"action": "delete_selected", "_selected_action": [first.session_id, second.session_id], "post": "yes"},
    )
    assert response.status_code == 302
    assert not ChatSession.objects.exists() and not Run.objects.exists()


def test_staff_who_is_not_superuser_cannot_delete_a_session(client, make_user, user):
    session = build_run(user).session
    staff = make_user("staffer", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["chat_sessions", "agents"]))
    client.force_login(staff)
    assert client.get(change_url(session)).status_code == 200
    assert client.post(delete_url(session), {"post": "yes"}).status_code == 403
    assert ChatSession.objects.filter(pk=session.pk).exists()


def test_non_staff_and_anonymous_are_sent_to_login(client, make_user):
    login = reverse("admin:login")
    response = client.get(LIST_URL)
    assert response.status_code == 302 and response.url.startswith(login)
    client.force_login(make_user("plain"))
    response = client.get(LIST_URL)
    assert response.status_code == 302 and response.url.startswith(login)


def test_list_uses_the_same_queries_for_3_or_10_sessions(admin_client, make_user, django_assert_max_num_queries):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST_URL).status_code == 200
        return len(captured.captured_queries)

    for number in range(3):
        make_session(make_user(f"few{number}"), f"few {number}", messages=3)
    few = count()
    for number in range(7):
        make_session(make_user(f"many{number}"), f"many {number}", messages=3)
    assert count() == few
    with django_assert_max_num_queries(10):
        assert admin_client.get(LIST_URL).status_code == 200


def test_superuser_can_delete_a_user_with_runs_and_history_goes_with_them(admin_client, make_user):
    from django.contrib.auth import get_user_model

    from agents.models import Run, RunEvent
    from tests.factories import make_run

    owner = make_user("leaving")
    run = make_run(owner)
    RunEvent.objects.create(run=run, seq=1, type="session", data={})
    url = f"/admin/auth/user/{owner.pk}/delete/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b"lacks permission" not in page.content
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=owner.pk).exists()
    assert not Run.objects.exists() and not RunEvent.objects.exists()


def test_change_page_shows_which_answer_is_incomplete(admin_client, user):
    session = make_session(user, "cut", messages=0)
    Message.objects.create(session=session, role="user", content="tell me a story")
    Message.objects.create(session=session, role="assistant", content="Once upon a", status="incomplete")
    html = admin_client.get(change_url(session)).content.decode()
    cells = re.findall(r'<td class="field-status">\s*<p>(.*?)</p>', html)
    assert cells == ["Complete", "Incomplete"]
