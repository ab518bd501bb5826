"""Error reports that never show a credential written in a URL.

Django's filter hides settings whose *name* looks secret (``PASSWORD``,
``SECRET_KEY``), but ``REDIS_URL``, ``DATABASE_URL``, a broker URL or a cache
``LOCATION`` carry their password inside the value. ``CredentialFilter``
(``DEFAULT_EXCEPTION_REPORTER_FILTER``) masks the ``user:password@`` part of
any URL in settings, in ``request.META`` (under ``runserver`` it holds the
whole environment) and in the traceback's local variables, debug or not.
``CredentialSafeReporter`` (``DEFAULT_EXCEPTION_REPORTER``) masks what is
left, such as an exception message that quotes a URL, in the finished page
and the text report (the admins' e-mail too).
"""

import re
from typing import Any

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# "scheme://" then everything up to the last "@" before the host's end (a slash, space, quote or
# markup), so an unencoded "@" in a password is masked too.
_USERINFO = re.compile(r"(?<=://)[^/\s'\"<>]+@")
MASK = "********@"


def redact_credentials(text: str) -> str:
    """Return the text with the user and password of every URL in it masked."""
    return _USERINFO.sub(MASK, text)


class CredentialFilter(SafeExceptionReporterFilter):
    """Django's filter, plus: a URL's ``user:password@`` is masked wherever a string is shown."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return redact_credentials(cleansed)
        return cleansed

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [
            (name, self.cleanse_setting("", value) if isinstance(value, str | dict | list | tuple) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


class CredentialSafeReporter(ExceptionReporter):
    """Django's reporter whose pages and texts have every URL's credentials masked."""

    def get_traceback_html(self) -> str:
        return redact_credentials(super().get_traceback_html())

    def get_traceback_text(self) -> str:
        return redact_credentials(super().get_traceback_text())
