"""The chat UI page: one server-rendered template; ``static/chat/js/main.js`` does the rest over the API."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET


@require_GET
@login_required
@ensure_csrf_cookie
def chat(request, *, max_message_chars: int):
    """Render the chat page; the script reads its settings from the ``chat-config`` JSON block.

    ``max_message_chars`` is the engine's limit, passed in by the engine's view
    (``agents.http.chat_page``): this app reads no engine setting.
    """
    config = {
        "maxMessageChars": max_message_chars,
        "username": request.user.get_username(),
    }
    return render(request, "chat/index.html", {"chat_config": config})
