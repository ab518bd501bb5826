"""The process's openai client (agents.llm.client): built once, rebuilt on new settings, offline or not."""

import pytest

from agents.exceptions import LLMError
from agents.llm.client import OFFLINE_BASE_URL, PLACEHOLDER_API_KEY, get_client, reset_client
from tests.support.gateway_calls import call
from tests.support.stub_model import Text

# --- The client --------------------------------------------------------------------------


def test_one_client_per_process_rebuilt_only_when_settings_change(stub_model, settings):
    stub_model.queue(Text("one"), Text("two"))
    first = get_client()

    call()
    call()

    assert get_client() is first
    assert first.max_retries == 0  # our retries, not the SDK's
    settings.LLM_TIMEOUT = 12.5
    rebuilt = get_client()
    assert rebuilt is not first
    assert get_client() is rebuilt


def test_base_url_without_key_sends_a_placeholder_key(stub_model, settings):
    settings.OPENAI_API_KEY = None
    stub_model.queue(Text("hi"))

    call()

    assert stub_model.request_headers[0]["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


def test_openai_provider_without_key_or_url_names_the_variable(settings):
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = None
    settings.OPENAI_API_KEY = None
    reset_client()
    try:
        with pytest.raises(LLMError) as caught:
            call()
    finally:
        reset_client()
    assert caught.value.code == "auth_failed"
    assert "OPENAI_API_KEY" in caught.value.detail


def test_offline_provider_uses_the_in_process_transport(settings):
    settings.LLM_PROVIDER = "offline"
    reset_client()
    try:
        result, deltas, _ = call(messages=[{"role": "user", "content": "hello"}])
    finally:
        reset_client()
    assert str(get_client().base_url).startswith(OFFLINE_BASE_URL)
    assert result.content.startswith("Hello!")
    assert len(deltas) > 1
