"""Limits on failed sign-ins, per username and per client address, on every login page.

``throttle_failed_logins`` wraps a login view (``/accounts/login/`` and
``/admin/login/``). Each POST takes one place in two rolling windows of
``LOGIN_FAILURE_LIMIT`` (default ``5/15m``): the username's and the client
address's (``agents_platform.sliding_window``, so the limits hold across
processes when the cache is Redis). A sign-in that succeeds gives its places
back, so only failures stay counted. When either window is full the POST is
not even checked: ``429`` with ``Retry-After`` and a page that says when to
try again.

Places are taken before the password is checked, not after it failed, so
parallel guesses cannot slip past the limit while they are being checked.
The username is case-folded (``Alice`` and ``alice`` share a window); an IPv6
client is counted by its /64, which one machine usually owns whole.
"""

import hashlib
import ipaddress
import math
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from agents_platform.sliding_window import SlidingWindow

WINDOW_NAME = "login-failures"


def client_address(request: HttpRequest) -> str:
    """Return the client's address (an IPv6 one as its /64), from ``CLIENT_IP_HEADER`` when that is set."""
    value = ""
    if settings.CLIENT_IP_HEADER:
        # X-Forwarded-For lists every hop; the last is the one our own proxy saw.
        value = request.headers.get(settings.CLIENT_IP_HEADER, "").split(",")[-1].strip()
    value = value or request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return value or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _window_keys(request: HttpRequest) -> list[str]:
    keys = [f"ip:{_digest(client_address(request))}"]
    username = request.POST.get(get_user_model().USERNAME_FIELD, "").strip()
    if username:
        keys.append(f"user:{_digest(username.casefold())}")
    return keys


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _throttled(request: HttpRequest, retry_after: int) -> HttpResponse:
    context = {"wait": _wait_text(retry_after), "retry_at": timezone.now() + timedelta(seconds=retry_after)}
    response = render(request, "registration/login_throttled.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@receiver(user_logged_in, dispatch_uid="agents_platform.login_throttle")
def _note_success(sender, request: HttpRequest | None = None, **kwargs) -> None:
    if request is not None:
        request.login_succeeded = True


def throttle_failed_logins(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a login view: refuse a POST with 429 while its username or address has too many failures."""

    @wraps(view)
    def throttled_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        window = SlidingWindow(WINDOW_NAME, settings.LOGIN_FAILURE_LIMIT)
        taken = []
        for key in _window_keys(request):
            place, retry_after = window.take(key)
            if place is None:
                for other in taken:
                    window.give_back(other)
                return _throttled(request, retry_after)
            taken.append(place)
        response = view(request, *args, **kwargs)
        if getattr(request, "login_succeeded", False):
            for place in taken:
                window.give_back(place)
        return response

    return throttled_view
