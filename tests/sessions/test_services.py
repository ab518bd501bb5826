"""Session services and selectors."""

import pytest
from django.db import IntegrityError, transaction

from agents_platform.errors import InvalidInput, NotFound
from sessions import selectors, services
from sessions.models import ChatSession, Message

pytestmark = pytest.mark.django_db


def test_session_selectors_are_scoped_to_the_user(user, other_user):
    mine = services.session_create(user=user, title="mine")
    theirs = services.session_create(user=other_user, title="theirs")
    services.message_create(session=mine, role=Message.Role.USER, content="hello")
    listed = list(selectors.session_list(user=user))
    assert listed == [mine]
    assert listed[0].message_count == 1
    assert selectors.session_get(user=user, session_id=mine.pk) == mine
    for bad in (theirs.pk, "nope", None):
        with pytest.raises(NotFound):
            selectors.session_get(user=user, session_id=bad)


def test_first_user_message_titles_an_untitled_session(user):
    session = services.session_create(user=user)
    services.message_create(session=session, role=Message.Role.USER, content="  Plan   my trip to Lisbon ")
    session.refresh_from_db()
    assert session.title == "Plan my trip to Lisbon"


def test_rename_refuses_empty_title(user):
    session = services.session_create(user=user, title="old")
    with pytest.raises(InvalidInput):
        services.session_rename(session=session, title="   ")
    session.refresh_from_db()
    assert session.title == "old"
    services.session_rename(session=session, title=" new  name ")
    session.refresh_from_db()
    assert session.title == "new name"


def test_message_is_complete_unless_marked_incomplete(user):
    session = services.session_create(user=user)
    question = services.message_create(session=session, role=Message.Role.USER, content="tell me a story")
    cut = services.message_create(
        session=session, role=Message.Role.ASSISTANT, content="Once upon a", status=Message.Status.INCOMPLETE
    )
    assert question.status == Message.Status.COMPLETE
    stored = {message.pk: message.status for message in Message.objects.filter(session=session)}
    assert stored == {question.pk: "complete", cut.pk: "incomplete"}


def test_database_refuses_an_unknown_message_status(user):
    session = services.session_create(user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        services.message_create(session=session, role=Message.Role.ASSISTANT, content="x", status="partial")
    assert not Message.objects.filter(session=session).exists()


def test_rename_of_a_session_deleted_since_it_was_read_is_not_found(user):
    session = services.session_create(user=user, title="old")
    ChatSession.objects.filter(pk=session.pk).delete()

    with pytest.raises(NotFound) as raised:
        services.session_rename(session=session, title="new")

    assert raised.value.code == "session_not_found"
    assert not ChatSession.objects.filter(pk=session.pk).exists()


def test_rename_bumps_the_last_activity(user):
    session = services.session_create(user=user, title="old")
    before = ChatSession.objects.get(pk=session.pk).updated_at

    renamed = services.session_rename(session=session, title="new")

    stored = ChatSession.objects.get(pk=session.pk)
    assert stored.title == renamed.title == "new"
    assert stored.updated_at == renamed.updated_at > before
