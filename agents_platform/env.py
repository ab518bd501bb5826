"""Readers of environment variables for ``agents_platform/settings.py``.

Each returns the variable's value in the type the setting needs, or its default
when the variable is unset or blank, and raises ``ImproperlyConfigured`` naming
the variable when the value is bad, so a misconfiguration fails at start.
What each setting means is in ``docs/settings.md``.
"""

import json
import math
import os
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the variable's value, or the default when it is unset or blank."""
    value = os.environ.get(name, "").strip()
    return value if value else default


def env_bool(name: str, default: bool) -> bool:
    """Return the variable as a boolean; anything but a clear yes/no is an error."""
    value = env_str(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Return the variable as an integer no smaller than minimum."""
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    """Return the variable as a number greater than minimum."""
    value = env_str(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):  # float() accepts "nan" and "inf"
        raise ImproperlyConfigured(f"{name} must be a finite number, got {value!r}")
    if number <= minimum:
        raise ImproperlyConfigured(f"{name} must be greater than {minimum}, got {number}")
    return number


def env_rate(name: str, default: str) -> str:
    """Return a rate such as '20/m' or '5/15m' (agents_platform.sliding_window.Rate), checked for shape."""
    value = env_str(name, default)
    # A period of 0 (e.g. "20/0m") would make every window empty.
    if not re.fullmatch(r"[1-9]\d*/([1-9]\d*)?[smhd]", value):
        raise ImproperlyConfigured(f"{name} must look like '20/m' (count/s|m|h|d), got {value!r}")
    return value


def redact_url(value: str) -> str:
    """Return the URL with any user and password replaced, for error messages that end up in logs."""
    return re.sub(r"(?<=://)[^/@]*@", "***@", value)


def env_url(name: str, default: str | None, schemes: set[str]) -> str | None:
    """Return a URL whose scheme is one of schemes."""
    value = env_str(name, default)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {allowed}, got {redact_url(value)!r}")
    return value


def env_usd(name: str) -> Decimal | None:
    """Return the variable as a positive number of US dollars (a Decimal), or None when unset."""
    value = env_str(name)
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number of US dollars, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive number of US dollars, got {value!r}")
    return amount


PRICE_FIELDS = ("input", "output", "cached_input")


def env_prices(name: str) -> dict[str, dict[str, Decimal]]:
    """Return per-model price overrides: ``{"model": {"input": usd_per_million, "output": ..., "cached_input": ...}}``.

    ``input`` and ``output`` are required; ``cached_input`` defaults to ``input``.
    """
    value = env_str(name)
    if value is None:
        return {}
    try:
        raw = json.loads(value, parse_float=Decimal, parse_int=Decimal)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {exc}") from None
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f'{name} must be a JSON object {{"model": {{"input": ..., "output": ...}}}}')
    prices: dict[str, dict[str, Decimal]] = {}
    for model, entry in raw.items():
        if not model.strip() or not isinstance(entry, dict):
            raise ImproperlyConfigured(f"{name}: the entry of {model!r} must be an object with input and output")
        unknown = set(entry) - set(PRICE_FIELDS)
        missing = {"input", "output"} - set(entry)
        if unknown or missing:
            raise ImproperlyConfigured(
                f"{name}: the entry of {model!r} has "
                + (f"unknown fields {sorted(unknown)}" if unknown else f"no {sorted(missing)}")
                + f" (allowed: {', '.join(PRICE_FIELDS)}, US dollars per million tokens)"
            )
        for field, price in entry.items():
            if isinstance(price, bool) or not isinstance(price, Decimal) or not price.is_finite() or price < 0:
                raise ImproperlyConfigured(
                    f"{name}: {model}.{field} must be a number of US dollars per million tokens, 0 or more"
                )
        prices[model] = {"cached_input": entry["input"], **entry}
    return prices


# The GenAI instrumentations' modes of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, besides booleans.
_CAPTURE_ON = {"1", "true", "yes", "on", "span_only", "span_and_event"}
_CAPTURE_OFF = {"0", "false", "no", "off", "no_content", "event_only"}


def env_capture(name: str) -> bool:
    """Return whether spans may carry prompts and completions: a boolean or a GenAI instrumentation mode."""
    capture = (env_str(name) or "false").lower()
    if capture not in _CAPTURE_ON | _CAPTURE_OFF:
        raise ImproperlyConfigured(
            f"{name} must be true, false, SPAN_ONLY, SPAN_AND_EVENT, EVENT_ONLY or NO_CONTENT, got {capture!r}"
        )
    return capture in _CAPTURE_ON


def env_writable_dir(name: str) -> str | None:
    """Return the variable as an existing writable directory, or None when unset."""
    value = env_str(name)
    if value and not (os.path.isdir(value) and os.access(value, os.W_OK)):
        raise ImproperlyConfigured(f"{name} must be an existing writable directory, got {value!r}")
    return value


def env_otlp_protocol() -> str:
    """Return the OTLP protocol of traces (the signal's own variable first); only the installed exporter's."""
    protocol = env_str("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env_str("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))
    if protocol != "http/protobuf":
        raise ImproperlyConfigured(
            f"OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf (the exporter installed), got {protocol!r}"
        )
    return protocol
