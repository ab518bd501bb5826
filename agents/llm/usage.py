"""What LLM calls used: one value type for a call's, an agent's, an execution's and a run's tokens, calls and dollars.

The events' wire shape (``catalogue.Usage``) and the stored counters of runs
and executions are both read from it: ``event()`` and ``counters()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from agents.llm.prices import ZERO


@dataclass(frozen=True)
class Usage:
    """Tokens, calls and dollars of some LLM calls (add two with ``+``)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, served from the provider's prompt cache (priced lower)
    llm_calls: int = 0
    cost_usd: Decimal = ZERO
    cost_known: bool = True  # False when some call's model had no known price (counted as 0)

    # The counters a run and an execution store (their columns of the same names).
    COUNTERS: ClassVar[tuple[str, ...]] = (
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "llm_calls",
        "cost_usd",
        "cost_known",
    )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            llm_calls=self.llm_calls + other.llm_calls,
            cost_usd=self.cost_usd + other.cost_usd,
            cost_known=self.cost_known and other.cost_known,
        )

    @classmethod
    def of(cls, counted: Any) -> Usage:
        """Return the usage a run or an execution stores (its counter fields)."""
        return cls(
            prompt_tokens=counted.prompt_tokens,
            completion_tokens=counted.completion_tokens,
            llm_calls=counted.llm_calls,
            cost_usd=counted.cost_usd,
            cost_known=counted.cost_known,
        )

    def counters(self) -> dict[str, Any]:
        """Return the counters as a run or an execution stores them (``cost_usd`` a Decimal)."""
        return {name: getattr(self, name) for name in self.COUNTERS}

    def event(self) -> dict[str, Any]:
        """Return the usage as events carry it (``cost_usd`` a JSON number)."""
        return {**self.counters(), "cost_usd": float(self.cost_usd)}
