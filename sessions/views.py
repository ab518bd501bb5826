"""The chat UI page: one server-rendered template; ``static/chat/js/main.js`` does the rest over the API."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET


@require_GET
@login_required
@ensure_csrf_cookie
def chat(request):
    """Render the chat page; the script reads its settings from the ``chat-config`` JSON block."""
    config = {
        "maxMessageChars": settings.AGENT_MAX_MESSAGE_CHARS,
        "username": request.user.get_username(),
    }
    return render(request, "chat/index.html", {"chat_config": config})
