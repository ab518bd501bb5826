"""The process's ``openai`` client, built from the LLM settings and rebuilt only when they change.

Retries are ours, not the SDK's (``max_retries=0``): ``agents.llm.gateway``
decides them. With ``LLM_PROVIDER=offline`` the client talks to the in-process
offline model (``agents.llm.offline.transport``) through the very same SDK.
"""

import threading

import httpx2
import openai
from django.conf import settings

from agents.exceptions import LLMError

OFFLINE_BASE_URL = "http://offline.invalid/v1"
# Local OpenAI-compatible servers need no key, but the SDK refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"

_client_lock = threading.Lock()
_client: openai.OpenAI | None = None
_client_key: tuple | None = None


def _settings_key() -> tuple:
    return (
        settings.LLM_PROVIDER,
        settings.OPENAI_BASE_URL,
        settings.OPENAI_API_KEY,
        float(settings.LLM_TIMEOUT),
    )


def _build_client(provider: str, base_url: str | None, api_key: str | None, timeout: float) -> openai.OpenAI:
    # connect/read/write/pool each get LLM_TIMEOUT: a read that waits longer
    # than that for the next byte is a stalled stream.
    http_timeout = httpx2.Timeout(timeout)
    if provider == "offline":
        from agents.llm.offline.transport import OfflineTransport

        return openai.OpenAI(
            api_key="offline",
            base_url=OFFLINE_BASE_URL,
            max_retries=0,
            timeout=http_timeout,
            http_client=httpx2.Client(transport=OfflineTransport(), timeout=http_timeout),
        )
    if not api_key:
        if not base_url:
            raise LLMError(
                code="auth_failed",
                detail="OPENAI_API_KEY is not set "
                "(LLM_PROVIDER=openai needs it unless OPENAI_BASE_URL names a local server).",
            )
        api_key = PLACEHOLDER_API_KEY
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,  # None: the SDK's default endpoint
        max_retries=0,
        timeout=http_timeout,
        http_client=openai.DefaultHttpx2Client(timeout=http_timeout),
    )


def get_client() -> openai.OpenAI:
    """Return the process's client, building it again only when its settings changed."""
    global _client, _client_key
    key = _settings_key()
    with _client_lock:
        if _client is None or _client_key != key:
            previous = _client
            _client = _build_client(*key)
            _client_key = key
            if previous is not None:
                previous.close()
        return _client


def reset_client() -> None:
    """Close and forget the cached client (tests that point settings elsewhere)."""
    global _client, _client_key
    with _client_lock:
        previous, _client, _client_key = _client, None, None
    if previous is not None:
        previous.close()
