"""``GET /``: the sessions app's chat page, given the engine's limits."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from sessions.views import chat


def chat_page(request: HttpRequest) -> HttpResponse:
    """Render the chat page with the longest message the engine accepts (read per request)."""
    return chat(request, max_message_chars=settings.AGENT_MAX_MESSAGE_CHARS)
