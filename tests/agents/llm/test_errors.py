"""The model server's errors (agents.llm.errors): mapped to codes, retried or not, masked, through the gateway."""

import pytest

from agents.exceptions import LLMError
from agents.llm import gateway as llm
from tests.support.gateway_calls import USER, call, chunk
from tests.support.stub_model import Error, Raw, Text


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "bad_request"), (422, "bad_request"), (404, "bad_request"), (401, "auth_failed"), (403, "auth_failed")],
)
def test_client_errors_are_mapped_and_not_retried(stub_model, status, code):
    stub_model.queue(Error(status, "nope"), Text("never sent"))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == code
    assert caught.value.retryable is False
    assert len(stub_model.requests) == 1


# --- What users see of an error, and what a failed call used ---------------------------------

LEAKY = "Incorrect API key provided: sk-live-abc123def456ghi789; upstream postgres://admin:secret@db:5432/x"
SECRETS = ("sk-live-abc123", "admin:secret", "secret@db")


@pytest.mark.parametrize(
    ("status", "code"), [(401, "auth_failed"), (429, "rate_limited"), (500, "server_error"), (400, "bad_request")]
)
def test_server_error_text_is_kept_masked_in_detail_and_never_in_the_message(
    stub_model, settings, caplog, status, code
):
    settings.LLM_MAX_RETRIES = 0
    stub_model.queue(Error(status, LEAKY, headers={"Retry-After": "0"}))

    with caplog.at_level("DEBUG", logger="agents.llm.gateway"), pytest.raises(LLMError) as caught:
        call()

    error = caught.value
    assert error.code == code
    assert error.message == LLMError.MESSAGES[code] and code in error.message
    assert str(error) == error.message
    assert error.for_user(run_id="r-1").endswith(f"({code}) (reference: run r-1).")
    assert error.detail == (
        f"The model server answered {status}: Incorrect API key provided: sk-***; upstream postgres://***@db:5432/x"
    )
    for secret in SECRETS:
        assert secret not in error.message and secret not in error.detail and secret not in caplog.text
    assert "postgres://***@db:5432/x" in caplog.text


def test_error_event_inside_the_stream_is_masked_too(stub_model):
    stub_model.queue(Raw([chunk({"content": "Half"}), {"error": {"message": LEAKY, "type": "server_error"}}]))

    with pytest.raises(LLMError) as caught:
        call()

    assert caught.value.code == "server_error"
    assert "sk-***" in caught.value.detail
    assert not any(secret in caught.value.detail + caught.value.message for secret in SECRETS)


def test_a_retry_is_announced_with_the_generic_error(stub_model, caplog):
    stub_model.queue(Error(429, LEAKY, headers={"Retry-After": "0"}), Text("ok"))
    errors = []

    with caplog.at_level("DEBUG", logger="agents.llm.gateway"):
        llm.chat_stream(model="m", messages=USER, on_retry=lambda attempt, error, delay: errors.append(error))

    [error] = errors
    assert error.message == LLMError.MESSAGES["rate_limited"]
    assert "sk-***" in caplog.text and "sk-live-abc123" not in caplog.text
