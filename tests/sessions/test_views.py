"""The chat page renders the limit it is given: the sessions app reads no engine setting."""

import json
import re

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from sessions.views import chat


def chat_config(response) -> dict:
    match = re.search(rb'<script id="chat-config" type="application/json">(.*?)</script>', response.content, re.S)
    assert match, "the page carries its settings as a JSON block"
    return json.loads(match.group(1))


def test_the_page_shows_the_limit_passed_in(user, settings):
    settings.AGENT_MAX_MESSAGE_CHARS = 5  # not read by this view
    request = RequestFactory().get("/")
    request.user = user
    response = chat(request, max_message_chars=1234)
    assert response.status_code == 200
    assert chat_config(response) == {"maxMessageChars": 1234, "username": user.username}
    assert b"up to 1,234 characters" in response.content  # grouped, as the page writes numbers


def test_the_page_asks_anonymous_users_to_sign_in():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    response = chat(request, max_message_chars=10)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
