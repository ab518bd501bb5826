"""Who is asking: the authentication of the async (streaming) views, as DRF's views do it.

A token (``Authorization: Token <key>``) first, else the session cookie.
Cookie requests with an unsafe method must pass Django's CSRF check; token
requests need none (no ambient credential). Failures raise the platform's
``NotAuthenticated`` (401, ``WWW-Authenticate: Token``) or
``PermissionDenied`` (403), which the views turn into the JSON error shape.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from rest_framework.authentication import CSRFCheck, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from agents.http.threads import in_thread
from agents_platform.errors import NotAuthenticated, PermissionDenied

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _token_user(*, key: str) -> AbstractBaseUser:
    try:
        user, _ = TokenAuthentication().authenticate_credentials(key)
    except AuthenticationFailed as exc:
        raise NotAuthenticated(str(exc.detail), headers={"WWW-Authenticate": "Token"}) from None
    return user


def _csrf_failure(request: HttpRequest) -> str | None:
    """Return why the request fails Django's CSRF check, or None (DRF's SessionAuthentication does the same)."""
    check = CSRFCheck(lambda req: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {})


async def authenticate(request: HttpRequest) -> AbstractBaseUser:
    """Return the user of a token (``Authorization: Token <key>``) or of the session cookie."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "token":
        if not key.strip():
            raise NotAuthenticated("Invalid token header.", headers={"WWW-Authenticate": "Token"})
        return await in_thread(_token_user, key=key.strip())
    user = await request.auser()
    if not user.is_authenticated:
        raise NotAuthenticated(headers={"WWW-Authenticate": "Token"})
    if request.method not in SAFE_METHODS:
        reason = _csrf_failure(request)
        if reason:
            raise PermissionDenied(f"CSRF Failed: {reason}")
    return user
