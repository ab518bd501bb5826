"""The stream request body (``agents/http/serializers.py``): each bad field named, clean fields trimmed."""

import pytest

from agents.exceptions import InvalidInput
from agents.http.serializers import stream_request


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "message"),
        ({"message": "   "}, "message"),
        ({"message": 5}, "message"),
        ({"message": "x" * 9000}, "message"),
        ({"message": "hi", "session_id": "not-a-uuid"}, "session_id"),
        ({"message": "hi", "session_id": 7}, "session_id"),
        ({"message": "hi", "context_type": ["x"]}, "context_type"),
        ({"message": "hi", "entity_id": "e" * 300}, "entity_id"),
        # PostgreSQL refuses NUL in text and no database encodes a lone surrogate: a 400, not a 500.
        ({"message": "a\x00b"}, "message"),
        ({"message": "a\ud800b"}, "message"),
        ({"message": "hi", "context_type": "x\x00"}, "context_type"),
        ({"message": "hi", "entity_id": "\udfff"}, "entity_id"),
    ],
)
def test_validate_request_names_the_bad_field(payload, field):
    with pytest.raises(InvalidInput) as info:
        stream_request(payload)
    assert field in info.value.fields
    assert info.value.code == f"invalid_{field}"


def test_validate_request_trims_and_ignores_unknown_fields():
    clean = stream_request({"message": "  hi  ", "extra": 1, "context_type": None})
    assert clean["message"] == "hi"
    assert "extra" not in clean


@pytest.mark.parametrize("payload", [None, [], "hi", 5, [{"message": "hi"}]])
def test_a_body_that_is_not_an_object_is_invalid_body(payload):
    with pytest.raises(InvalidInput) as info:
        stream_request(payload)
    assert (info.value.code, info.value.message, info.value.fields) == (
        "invalid_body",
        "The body must be a JSON object.",
        {},
    )


def test_every_bad_field_is_named_and_the_message_quotes_the_first():
    with pytest.raises(InvalidInput) as info:
        stream_request({"message": 5, "multitask": "later", "review_plan": "yes"})
    assert info.value.code == "invalid_message"
    assert info.value.message == "Invalid field 'message': Must be a string."
    assert info.value.fields == {
        "message": ["Must be a string."],
        "multitask": ["Must be one of reject, enqueue, interrupt, or null."],
        "review_plan": ["Must be a boolean."],
    }


def test_absent_and_null_fields_get_their_defaults():
    clean = stream_request({"message": "hi", "multitask": None, "review_plan": None, "conversation_history": []})
    assert clean == {
        "message": "hi",
        "session_id": None,
        "context_type": None,
        "entity_id": None,
        "multitask": "reject",
        "conversation_history": None,
        "review_plan": False,
    }
