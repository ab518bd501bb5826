"""Request parsers of the DRF views."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, also answering 400 for JSON nested past Python's recursion limit.

    DRF catches ``ValueError`` only; ``json`` recurses per nesting level, so a
    body of a few hundred kilobytes of ``[`` raised RecursionError: a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type=media_type, parser_context=parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
