"""``manage.py chat``: one message end to end in the terminal, as the user the command acts as."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from agents.models import Run
from tests.support.stub_model import Error, Text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def test_chat_answers_as_a_new_user_without_a_usable_password(stub_model):
    stub_model.queue(Text("Four, as it happens."))
    out = io.StringIO()
    call_command("chat", "What is 2 + 2?", user="cli-person", stdout=out)
    printed = out.getvalue()
    assert "Four, as it happens." in printed
    account = get_user_model().objects.get(username="cli-person")
    assert not account.has_usable_password()
    run = Run.objects.get(user=account)
    assert run.status == Run.Status.COMPLETED
    assert f"run {run.pk}" in printed and "status completed" in printed


def test_chat_fails_the_command_when_the_run_fails(stub_model, make_user):
    existing = make_user("bob")
    stub_model.queue(Error(400, "bad request"))
    with pytest.raises(CommandError, match="the run ended failed"):
        call_command("chat", "Hello?", user="bob", stdout=io.StringIO())
    existing.refresh_from_db()
    assert existing.has_usable_password()  # an existing user is used as it is
    assert Run.objects.get(user=existing).status == Run.Status.FAILED
