"""Masking secrets in text we log or keep for operators (agents/redact.py)."""

import pytest

from agents.redact import redact_secrets


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(
            "Incorrect API key provided: sk-live-abc123def456ghi789. You can find your key at platform.example.",
            "Incorrect API key provided: sk-***. You can find your key at platform.example.",
            id="openai-key",
        ),
        pytest.param("key sk-proj-AbCdEf_1234567890xyz here", "key sk-*** here", id="project-key"),
        pytest.param("stripe rk_live_51Habcdefghijk", "stripe rk_***", id="underscore-key"),
        pytest.param(
            "upstream postgres://admin:secret@db:5432/x failed", "upstream postgres://***@db:5432/x failed", id="dsn"
        ),
        pytest.param("redis://:p@ss@cache:6379/0", "redis://***@cache:6379/0", id="at-in-password"),
        pytest.param("see https://user@example.com/x", "see https://***@example.com/x", id="user-only"),
        pytest.param("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer ***", id="auth-header"),
        pytest.param("sent bearer eyJhbGciOi.payload", "sent bearer ***", id="bearer-lowercase"),
        pytest.param("Authorization: Token 9944b09199c62bcf", "Authorization: Token ***", id="drf-token"),
        pytest.param(
            "GET https://api.example.com/v1/models?key=AIzaSyA1234&model=m&api_key=zzz#top",
            "GET https://api.example.com/v1/models?key=***&model=m&api_key=***#top",
            id="query-params",
        ),
        pytest.param(
            '{"api_key": "hunter2", "password":"pw", "x-api-key": "k1"}',
            '{"api_key": "***", "password":"***", "x-api-key": "***"}',
            id="json-pairs",
        ),
        pytest.param("access_token=abc123&client_secret=def", "access_token=***&client_secret=***", id="oauth"),
        pytest.param("github ghp_abcdefghijklmnopqrstuvwxyz0123", "github ***", id="github-token"),
        pytest.param("aws AKIAIOSFODNN7EXAMPLE", "aws ***", id="aws-key"),
        pytest.param("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.sig_part", "jwt ***", id="jwt"),
    ],
)
def test_secrets_are_masked(text, masked):
    assert redact_secrets(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "You exceeded your current quota, please check your plan and billing details.",
        "This model's maximum context length is 8192 tokens; you requested 9000 tokens.",
        "Invalid value for max_tokens: 4096 is too large.",
        "Rate limit reached for gpt-4o-mini in organization org-123 on requests per min (RPM).",
        "The server had an error while processing your request. Sorry about that!",
        "Contact support@example.com about request req_abc123.",
        "task-manager skills are fine",
    ],
)
def test_ordinary_error_text_is_left_alone(text):
    assert redact_secrets(text) == text


def test_empty_and_none_give_empty_text():
    assert redact_secrets("") == ""
    assert redact_secrets(None) == ""


def test_masking_twice_changes_nothing():
    once = redact_secrets("sk-live-abc123def456 at postgres://a:b@h/x with token=t0k3n")
    assert redact_secrets(once) == once
