"""What a model call costs, in US dollars, from the model's own usage.

Prices come from ``AGENT_PRICES`` (per model, US dollars per million tokens,
checked at start) and otherwise from ``genai-prices``, a maintained price
table shipped with the package (no network: its bundled snapshot is used,
never its auto-updater). Cached prompt tokens (the model's
``prompt_tokens_details.cached_tokens``) are priced at the cached-input rate;
they are part of ``prompt_tokens``, as in the OpenAI API. A model found in
neither costs 0 and is marked unknown (``known=False``): a price is never
guessed. The built-in offline model costs 0 and is known.

Costs are Decimals rounded to ``COST_PLACES`` places (a ten-billionth of a
dollar), the precision they are stored with: the stored sum of a run's calls
is exactly the sum of its calls as priced here.
"""

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from django.conf import settings

logger = logging.getLogger(__name__)

COST_PLACES = 10
COST_QUANTUM = Decimal(1).scaleb(-COST_PLACES)
MILLION = Decimal(1_000_000)
ZERO = Decimal(0).quantize(COST_QUANTUM)


@dataclass(frozen=True)
class Cost:
    usd: Decimal
    known: bool


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per million tokens."""

    input: Decimal
    output: Decimal
    cached_input: Decimal


def quantize(amount: Decimal) -> Decimal:
    """Round a dollar amount to the stored precision."""
    return amount.quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)


def _override(model: str) -> ModelPrice | None:
    entry = settings.AGENT_PRICES.get(model)
    if entry is None:
        return None
    return ModelPrice(input=entry["input"], output=entry["output"], cached_input=entry["cached_input"])


@lru_cache(maxsize=256)
def _table_price(model: str) -> ModelPrice | None:
    """Return the model's price per million tokens from genai-prices, or None when it does not know the model."""
    import genai_prices

    try:
        calculation = genai_prices.calc_price(genai_prices.Usage(input_tokens=0, output_tokens=0), model)
    except LookupError:
        return None
    except Exception:  # a malformed entry of the table must not fail a run
        logger.warning("genai-prices could not price model %r", model, exc_info=True)
        return None
    price = calculation.model_price
    # Tiered prices (by prompt length) are priced at their base rate.
    input_rate = getattr(price.input_mtok, "base", price.input_mtok)
    output_rate = getattr(price.output_mtok, "base", price.output_mtok)
    cached_rate = getattr(price.cache_read_mtok, "base", price.cache_read_mtok)
    if input_rate is None or output_rate is None:
        return None
    return ModelPrice(
        input=Decimal(input_rate),
        output=Decimal(output_rate),
        cached_input=Decimal(cached_rate) if cached_rate is not None else Decimal(input_rate),
    )


def model_price(model: str) -> ModelPrice | None:
    """Return the price of a model (``AGENT_PRICES`` first, then genai-prices), or None when it is unknown.

    The offline model's price is 0.
    """
    if settings.LLM_PROVIDER == "offline":
        return ModelPrice(Decimal(0), Decimal(0), Decimal(0))
    if not model:
        return None
    return _override(model) or _table_price(model)


def _table_cost(model: str, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> Decimal | None:
    """Return genai-prices' price of a call (tiers and cache rates applied); None for a model it does not know."""
    import genai_prices

    if _table_price(model) is None:
        return None
    usage = genai_prices.Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens)
    if cached_tokens:
        usage.cache_read_tokens = cached_tokens
    try:
        return genai_prices.calc_price(usage, model).total_price
    except Exception:
        logger.warning("genai-prices could not price a call of model %r", model, exc_info=True)
        return None


def price_call(*, models: tuple[str, ...], prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Cost:
    """Return what one call cost, priced as the first of ``models`` with a price (served name, then asked)."""
    cached = max(0, min(cached_tokens, prompt_tokens))
    if settings.LLM_PROVIDER == "offline":
        return Cost(usd=ZERO, known=True)
    for model in models:
        if not model:
            continue
        price = _override(model)
        if price is not None:
            usd = (
                (prompt_tokens - cached) * price.input + cached * price.cached_input + completion_tokens * price.output
            ) / MILLION
            return Cost(usd=quantize(usd), known=True)
        usd = _table_cost(model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cached_tokens=cached)
        if usd is not None:
            return Cost(usd=quantize(usd), known=True)
    return Cost(usd=ZERO, known=False)


def estimate_prompt_cost(*, model: str, prompt_tokens: int) -> Decimal:
    """Return what a prompt of ``prompt_tokens`` would cost (0 for an unknown model): a call's estimate before it."""
    price = model_price(model)
    if price is None:
        return ZERO
    return quantize(prompt_tokens * price.input / MILLION)
