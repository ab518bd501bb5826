"""Session services and selectors."""

import pytest
from django.db import IntegrityError, transaction

from agents_platform.errors import InvalidInput, NotFound
from sessions import selectors, services
from sessions.models import Message

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
