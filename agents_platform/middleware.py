"""The platform's middleware: a Content-Security-Policy on HTML pages, and 503s for services that are down."""

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin

from agents_platform.errors import error_response, exc_summary, http_status, service_unavailable_for

logger = logging.getLogger(__name__)


def policy_header(directives: dict[str, str]) -> str:
    """Return a Content-Security-Policy header value from ``{"directive": "sources"}``."""
    return "; ".join(f"{name} {sources}".strip() for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    """Add ``settings.CONTENT_SECURITY_POLICY`` to every HTML response that has no policy of its own.

    A view with other needs (Swagger UI) sets its own header. Django's debug
    pages (DEBUG on, 404 and 500) are left alone: they are made of inline
    script and style, and only a developer sees them. Sync and async alike,
    so an async view's request does not hop to a thread for a header.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        return self.add_policy(self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self.add_policy(await self.get_response(request))

    def add_policy(self, response: HttpResponse) -> HttpResponse:
        """Return the response with the site's policy, when it is an HTML page without one."""
        if "Content-Security-Policy" in response or not settings.CONTENT_SECURITY_POLICY:
            return response
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        if settings.DEBUG and response.status_code in {404, 500}:
            return response
        response["Content-Security-Policy"] = policy_header(settings.CONTENT_SECURITY_POLICY)
        return response


class ServiceUnavailableMiddleware(MiddlewareMixin):
    """Answer ``503`` with ``Retry-After`` when a view failed because Redis or the database is down.

    JSON in the contract's error shape under ``/api/`` and for clients that do
    not take HTML; a plain page otherwise. Never a traceback, debug or not:
    this is not a bug, it is an outage. DRF views get the same answer from
    ``api_exception_handler``; this covers the async stream views and the rest.
    Only ``process_exception``: a request that does not fail costs nothing here.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        unavailable = service_unavailable_for(exception)
        if unavailable is None:
            return None
        logger.warning("%s %s: 503, %s", request.method, request.path, exc_summary(exception))
        if request.path.startswith("/api/") or not request.accepts("text/html"):
            return error_response(unavailable)
        # Rendered without the request: its context processors could touch the database that is down.
        response = HttpResponse(render_to_string("503.html"), status=http_status(unavailable))
        for name, value in unavailable.headers.items():
            response[name] = value
        return response
