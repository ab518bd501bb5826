"""Mask secrets in text that is about to be logged or kept for operators.

A model server's error text is not ours: it may quote the API key it was
sent ("Incorrect API key provided: sk-..."), an upstream DSN with its
password, or a signed URL. ``redact_secrets`` masks what looks like a
credential and keeps the rest readable, so the text can still be logged and
shown to staff. It is a filter on text we do not control, not a guarantee:
text that must never leave the server (provider errors) is also kept out of
everything users see (``LLMError.message`` is generic, see agents/exceptions.py).
"""

import re

MASK = "***"

# scheme://user:password@host -> scheme://***@host (the user name goes too: it is half the credential).
# Greedy up to the last "@" of the authority: an unencoded "@" in a password must not leave its tail behind.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s/?#'\"<>]+@")

# Authorization headers and bearer tokens, whatever scheme.
_AUTHORIZATION = re.compile(r"(?P<head>\bAuthorization\s*[:=]\s*[\"']?(?:[A-Za-z]+\s+)?)[^\s\"',;]+", re.IGNORECASE)
_BEARER = re.compile(r"(?P<head>\bBearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)

# Keys with a well-known shape: OpenAI/Anthropic/Stripe-style sk-/pk-/rk-, GitHub, Slack, AWS, Google, JWTs.
_KEY_SHAPES = re.compile(
    r"\b(?:"
    r"(?P<prefix>(?:sk|pk|rk)[-_])[A-Za-z0-9][A-Za-z0-9\-_]{7,}"
    r"|gh[pousr]_[A-Za-z0-9]{16,}"
    r"|github_pat_[A-Za-z0-9_]{16,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{8,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|AIza[0-9A-Za-z\-_]{30,}"
    r"|eyJ[A-Za-z0-9\-_]{8,}\.[A-Za-z0-9\-_]{8,}\.[A-Za-z0-9\-_]*"
    r")"
)

# key=value and "key": "value" pairs whose name says they hold a secret (query strings, JSON, headers).
_CREDENTIAL_NAMES = (
    r"[A-Za-z0-9_\-]*(?:api[_\-]?key|apikey|secret|password|passwd|pwd|token|credential|signature)"
    r"|key|sig|auth|x-api-key"
)
_SECRET_PAIR = re.compile(
    rf"(?P<head>(?<![A-Za-z0-9_\-])(?:{_CREDENTIAL_NAMES})[\"']?\s*(?:=|:)\s*[\"']?)(?P<value>[^\s\"'&,;#}}\]<>]+)",
    re.IGNORECASE,
)


def _mask_key(match: re.Match) -> str:
    return f"{match['prefix'] or ''}{MASK}"


def redact_secrets(text: str | None) -> str:
    """Return the text with API keys, tokens, secret parameters and URL credentials replaced by ``***``."""
    if not text:
        return ""
    text = _URL_CREDENTIALS.sub(rf"\g<scheme>{MASK}@", text)
    text = _AUTHORIZATION.sub(rf"\g<head>{MASK}", text)
    text = _BEARER.sub(rf"\g<head>{MASK}", text)
    text = _KEY_SHAPES.sub(_mask_key, text)
    return _SECRET_PAIR.sub(rf"\g<head>{MASK}", text)
