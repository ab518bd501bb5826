"""Django's stock middleware, without a thread hop per middleware on an async request.

Under ASGI, ``MiddlewareMixin`` runs every ``process_request`` and
``process_response`` through ``sync_to_async(thread_sensitive=True)``: one
shared thread, twice per middleware, for every request. A stream (an
``async def`` view) would hop fourteen times before its first byte, all its
peers queued behind the same thread. Most of these methods only read headers
and set attributes; these subclasses run them inline on the event loop and
keep the hop for the cases that touch the database or a file:

- a session that must be saved (modified, or ``SESSION_SAVE_EVERY_REQUEST``),
- messages that were used or added (their storage writes the session),
- a CSRF check that must read a form body (no ``X-CSRFToken`` header on an
  unsafe request to a view that is not exempt), or CSRF kept in the session.

Each class behaves exactly as its parent otherwise (same settings, same
responses); sync requests (WSGI, tests' client) take the parent's path.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class InlineOnAsync:
    """Run ``process_request`` / ``process_response`` inline on an async request unless they need a thread."""

    def request_needs_thread(self, request: HttpRequest) -> bool:
        return False

    def response_needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class AsyncSecurityMiddleware(InlineOnAsync, SecurityMiddleware):
    """Headers and redirects only."""


class AsyncSessionMiddleware(InlineOnAsync, SessionMiddleware):
    """The session store is lazy; only saving it touches the database."""

    def response_needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class AsyncCommonMiddleware(InlineOnAsync, CommonMiddleware):
    """User agents, slashes, Content-Length: no I/O."""


class AsyncCsrfViewMiddleware(InlineOnAsync, CsrfViewMiddleware):
    """The token comes from a cookie and a header; only a form body (or the session) needs a thread."""

    def response_needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        return settings.CSRF_USE_SESSIONS

    def request_needs_thread(self, request: HttpRequest) -> bool:
        return settings.CSRF_USE_SESSIONS

    async def process_view(
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponse | None:
        reads_body = (
            request.method not in SAFE_METHODS
            and not getattr(callback, "csrf_exempt", False)
            and settings.CSRF_HEADER_NAME not in request.META
        )
        if reads_body or settings.CSRF_USE_SESSIONS:
            return await sync_to_async(super().process_view, thread_sensitive=True)(
                request, callback, callback_args, callback_kwargs
            )
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AsyncAuthenticationMiddleware(InlineOnAsync, AuthenticationMiddleware):
    """``request.user`` is lazy (``request.auser()`` for async code); nothing is read here."""


class AsyncMessageMiddleware(InlineOnAsync, MessageMiddleware):
    """The storage is lazy; it writes (a cookie or the session) only when messages were used or added."""

    def response_needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class AsyncXFrameOptionsMiddleware(InlineOnAsync, XFrameOptionsMiddleware):
    """One header."""


# --- System checks -------------------------------------------------------------
#
# Django's deploy checks security.W001-W003 look for the stock classes by name, so
# they would call these subclasses missing. They are silenced in the settings and
# replaced by the same checks that accept the stock class or a subclass.

REQUIRED = {
    "security.W001": (SecurityMiddleware, "SecurityMiddleware: the SECURE_* settings have no effect."),
    "security.W002": (XFrameOptionsMiddleware, "XFrameOptionsMiddleware: pages get no X-Frame-Options header."),
    "security.W003": (CsrfViewMiddleware, "CsrfViewMiddleware: forms are not protected against CSRF."),
}


def middleware_checks(app_configs: Any = None, **kwargs: Any) -> list:
    """Warn (as security.W001-W003 would) when a security middleware, stock or ours, is not installed."""
    from django.core.checks import Warning
    from django.utils.module_loading import import_string

    installed = [import_string(path) for path in settings.MIDDLEWARE]
    problems = []
    for check_id, (base, what) in REQUIRED.items():
        if not any(isinstance(cls, type) and issubclass(cls, base) for cls in installed):
            problems.append(Warning(f"MIDDLEWARE has no {what}", id=f"agents_platform.{check_id.split('.')[1]}"))
    return problems
