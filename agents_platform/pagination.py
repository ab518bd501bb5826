"""Page-number pagination with a client-chosen page size, capped at 100.

DRF's own parsing is lenient where the schema is not: ``?page_size=null``,
``0`` or ``abc`` silently gave the default size, and ``?page=`` or ``?page=1_0``
(Python's ``int``) a page. Here both take only a plain positive integer, as
the schema says: a bad ``page_size`` answers 400 ``invalid_page_size``, a bad
``page`` the 404 DRF gives any invalid page (one past the last included).
"""

import re

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

from agents_platform.errors import InvalidInput

POSITIVE_INTEGER = re.compile(r"[1-9][0-9]*", re.ASCII)
# A page size of more digits than this is over the cap anyway; never int() a huge string.
PAGE_SIZE_MAX_DIGITS = 9


class Pagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    last_page_strings = ()  # `?page=last` is not in the schema

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not POSITIVE_INTEGER.fullmatch(raw):
            raise InvalidInput(
                "page_size must be a positive integer.",
                code="invalid_page_size",
                fields={self.page_size_query_param: ["Must be a positive integer."]},
            )
        return self.max_page_size if len(raw) > PAGE_SIZE_MAX_DIGITS else min(int(raw), self.max_page_size)

    def get_page_number(self, request, paginator) -> str | int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not POSITIVE_INTEGER.fullmatch(raw):
            raise NotFound(self.invalid_page_message)
        return raw  # Django's paginator answers a page past the last (or a huge number) with InvalidPage: 404

    def get_schema_operation_parameters(self, view) -> list[dict]:
        page, page_size = super().get_schema_operation_parameters(view)
        page["schema"]["minimum"] = 1
        page["description"] = "A page number, from 1; one past the last page answers 404."
        page_size["schema"]["minimum"] = 1
        page_size["description"] = (
            f"Items per page, default {self.page_size}; more than {self.max_page_size} gives {self.max_page_size}."
        )
        return [page, page_size]
