"""Dollar budgets and per-run caps, checked before every model call and shared by every process.

Three limits, each a counter in the default cache (Redis when ``REDIS_URL``
is set, so every web process and worker sees the same numbers):

- ``AGENT_COST_BUDGET_DAILY``: US dollars per user per UTC day. Counter
  ``agent-cost-day:<user>:<YYYYMMDD>``.
- ``AGENT_RUN_MAX_COST``: US dollars per run (``agent-run-cost:<run>``).
- ``AGENT_RUN_MAX_TOKENS``: tokens per run (``agent-run-tokens:<run>``).

The design is the token budget's (``limits.py``): reserve, check, settle.
Before a model call its cost is estimated from its prompt (the messages and
tools it sends, priced at the model's input rate; what it will answer is not
known yet) and added to each counter; when a counter then exceeds its limit
(or was already at it) everything is taken back and the call is not made:
``RunLimitExceeded`` with ``run_token_limit``, ``run_cost_limit`` or
``cost_budget_exceeded``, which ends the run ``failed``. Adding first and
reading after is what keeps two racing calls (parallel executors, other
runs, other processes) from both slipping under a limit. After the call the
estimate is replaced by the call's real cost (``call_settle``); a call that
failed before it streamed anything is taken back (``call_release``).

A message is admitted (``admission_hold``) only while the user's day can
pay for the prompt of its own text; that much is held for the run until its
first call (or its end, ``run_settle``), so racing messages cannot all pass.

Counters are in units of 1e-10 dollars (the stored precision), integers so
that every change is one atomic ``incr``. A counter missing from the cache
(LocMem after a restart, an evicted key, a run resumed elsewhere) is seeded
from the database, which is the truth: the day's stored calls, the run's
stored usage.

``budget_warning`` is emitted once per run and scope (``run``,
``user_daily``) when 80 % of a dollar limit is used, before the call that
would pass it is refused.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache

from agents import events
from agents.events import catalogue
from agents.exceptions import CostBudgetExceeded, RunLimitExceeded
from agents.llm import prices
from agents.llm.tokens import estimate_tokens
from agents.models import Run
from agents.runs import selectors

WARNING_SHARE = Decimal("0.8")
DAY_TTL = 2 * 24 * 3600
RUN_TTL = 7 * 24 * 3600
UNITS_PER_USD = 10**prices.COST_PLACES


def to_units(usd: Decimal) -> int:
    """Return dollars as integer counter units (1e-10 dollars), rounded up: a limit is never undercounted."""
    return math.ceil(usd * UNITS_PER_USD)


def to_usd(units: int) -> Decimal:
    return prices.quantize(Decimal(units) / UNITS_PER_USD)


def utc_today() -> date:
    return datetime.now(UTC).date()


def seconds_to_midnight_utc() -> int:
    """Return the seconds until the next UTC day (when a daily budget opens again), at least 1."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return max(1, math.ceil((midnight - now).total_seconds()))


def _day_key(user_id: int, day: date) -> str:
    return f"agent-cost-day:{user_id}:{day:%Y%m%d}"


def _run_cost_key(run_id) -> str:
    return f"agent-run-cost:{run_id}"


def _run_tokens_key(run_id) -> str:
    return f"agent-run-tokens:{run_id}"


def _admission_key(run_id) -> str:
    return f"agent-cost-hold:{run_id}"


def _warned_key(run_id, scope: str) -> str:
    return f"agent-cost-warned:{run_id}:{scope}"


def _add(key: str, delta: int, ttl: int) -> int:
    """Add ``delta`` to a counter that exists (``_ensure``) and return its new value."""
    if delta == 0:
        return int(cache.get(key) or 0)
    try:
        return int(cache.incr(key, delta))
    except ValueError:  # expired between _ensure and now
        if cache.add(key, delta, ttl):
            return delta
        return int(cache.incr(key, delta))


def _ensure(key: str, ttl: int, seed) -> None:
    """Create the counter from the database (``seed()``) when the cache does not have it."""
    if cache.get(key) is None:
        cache.add(key, seed(), ttl)


def _ensure_day(user_id: int, day: date) -> str:
    key = _day_key(user_id, day)
    _ensure(key, DAY_TTL, lambda: to_units(selectors.user_cost_on_day(user_id=user_id, day=day)))
    return key


def _ensure_run(run: Run) -> tuple[str, str]:
    cost_key, tokens_key = _run_cost_key(run.pk), _run_tokens_key(run.pk)
    if cache.get(cost_key) is None or cache.get(tokens_key) is None:
        # From what the run stored: a resumed attempt (perhaps elsewhere) or a counter the cache evicted.
        # The owner holds the run's counters (kept current by run_add_usage): no read.
        cost, tokens = (run.cost_usd, run.total_tokens) if run.owner else selectors.run_spent(run_id=run.pk)
        cache.add(cost_key, to_units(cost), RUN_TTL)
        cache.add(tokens_key, tokens, RUN_TTL)
    return cost_key, tokens_key


def _over(after: int, delta: int, limit: int) -> bool:
    """Return whether a counter that became ``after`` by adding ``delta`` passed ``limit`` (or was at it already)."""
    return after > limit or after - delta >= limit


# --- Admission ---------------------------------------------------------------


def user_spent_today(*, user_id: int) -> Decimal:
    """Return the user's dollars of today (UTC) as the budget sees them: spent, and held by runs in flight."""
    return to_usd(int(cache.get(_ensure_day(user_id, utc_today())) or 0))


def admission_hold(*, user_id: int, message: str) -> tuple[str, int] | None:
    """Hold the cost of the message's own prompt from the user's day; raise CostBudgetExceeded when it cannot pay.

    Returns the hold (to attach to the run or release), or None when no daily budget is set.
    """
    budget = settings.AGENT_COST_BUDGET_DAILY
    if budget is None:
        return None
    estimate = prices.estimate_prompt_cost(model=settings.PLANNER_MODEL, prompt_tokens=estimate_tokens(message))
    units = to_units(estimate)
    key = _ensure_day(user_id, utc_today())
    if _over(_add(key, units, DAY_TTL), units, to_units(budget)):
        _add(key, -units, DAY_TTL)
        raise CostBudgetExceeded(retry_after=seconds_to_midnight_utc())
    return key, units


def admission_release(hold: tuple[str, int] | None) -> None:
    """Give back a hold whose run was never created."""
    if hold is not None:
        _add(hold[0], -hold[1], DAY_TTL)


def admission_attach(hold: tuple[str, int] | None, *, run_id) -> None:
    """Remember the run's admission hold, released at its first model call or its end."""
    if hold is not None:
        cache.set(_admission_key(run_id), hold, DAY_TTL)


def _release_admission(run_id) -> None:
    key = _admission_key(run_id)
    hold = cache.get(key)
    if hold is not None and cache.delete(key):  # only the one that deleted it gives it back
        _add(hold[0], -hold[1], DAY_TTL)


# --- Before and after each model call ----------------------------------------


@dataclass
class CallHold:
    """What was reserved for one model call, replaced by its real usage after it."""

    run: Run
    day_key: str | None
    tokens: int
    units: int


def call_reserve(*, run: Run, model: str, prompt_tokens: int) -> CallHold:
    """Reserve an estimated call (``prompt_tokens`` of ``model``) against every limit; refuse one that would pass any.

    Emits `budget_warning` first where 80 % of a dollar limit is already used.
    Raises RunLimitExceeded (the run ends failed) with nothing reserved.
    """
    _release_admission(run.pk)
    cost_key, tokens_key = _ensure_run(run)
    warn(run=run)
    units = to_units(prices.estimate_prompt_cost(model=model, prompt_tokens=prompt_tokens))
    taken: list[tuple[str, int, int]] = []

    def take(key: str, delta: int, ttl: int, limit: int | None, error: RunLimitExceeded) -> None:
        after = _add(key, delta, ttl)
        taken.append((key, delta, ttl))
        if limit is not None and _over(after, delta, limit):
            for undo_key, undo_delta, undo_ttl in taken:
                _add(undo_key, -undo_delta, undo_ttl)
            raise error

    max_tokens = settings.AGENT_RUN_MAX_TOKENS
    take(
        tokens_key,
        prompt_tokens,
        RUN_TTL,
        max_tokens,
        RunLimitExceeded(
            f"The run would use more than AGENT_RUN_MAX_TOKENS ({max_tokens}) tokens; "
            "the next model call was not made.",
            code="run_token_limit",
        ),
    )
    max_cost = settings.AGENT_RUN_MAX_COST
    take(
        cost_key,
        units,
        RUN_TTL,
        None if max_cost is None else to_units(max_cost),
        RunLimitExceeded(
            f"The run would cost more than AGENT_RUN_MAX_COST (${max_cost}); the next model call was not made.",
            code="run_cost_limit",
        ),
    )
    day_key = None
    budget = settings.AGENT_COST_BUDGET_DAILY
    if budget is not None:
        day_key = _ensure_day(run.user_id, utc_today())
        take(
            day_key,
            units,
            DAY_TTL,
            to_units(budget),
            RunLimitExceeded(
                f"Your daily budget (${budget}, AGENT_COST_BUDGET_DAILY) would be passed; "
                "the next model call was not made. It opens again at midnight UTC.",
                code="cost_budget_exceeded",
            ),
        )
    return CallHold(run=run, day_key=day_key, tokens=prompt_tokens, units=units)


def call_settle(hold: CallHold, *, tokens: int, cost_usd: Decimal) -> None:
    """Replace a call's reservation with what it really used, then warn where 80 % of a limit is now used."""
    units = to_units(cost_usd)
    _add(_run_tokens_key(hold.run.pk), tokens - hold.tokens, RUN_TTL)
    _add(_run_cost_key(hold.run.pk), units - hold.units, RUN_TTL)
    if hold.day_key is not None:
        _add(hold.day_key, units - hold.units, DAY_TTL)
    elif settings.AGENT_COST_BUDGET_DAILY is None and units:
        # No budget now, but one may be set later today: keep the day's count right while it is cached.
        day_key = _day_key(hold.run.user_id, utc_today())
        if cache.get(day_key) is not None:
            _add(day_key, units, DAY_TTL)
    warn(run=hold.run)


def call_release(hold: CallHold) -> None:
    """Take back the reservation of a call that used nothing (it failed before any output)."""
    _add(_run_tokens_key(hold.run.pk), -hold.tokens, RUN_TTL)
    _add(_run_cost_key(hold.run.pk), -hold.units, RUN_TTL)
    if hold.day_key is not None:
        _add(hold.day_key, -hold.units, DAY_TTL)


def run_settle(*, run_id) -> None:
    """Release what a finished run still holds (its admission hold, when it never called a model)."""
    _release_admission(run_id)


# --- Warnings ----------------------------------------------------------------


def warn(*, run: Run) -> None:
    """Emit `budget_warning` once per run and scope when 80 % of a dollar limit is used."""
    checks = []
    if settings.AGENT_RUN_MAX_COST is not None:
        used = int(cache.get(_run_cost_key(run.pk)) or 0)
        checks.append(("run", used, settings.AGENT_RUN_MAX_COST))
    if settings.AGENT_COST_BUDGET_DAILY is not None:
        used = int(cache.get(_ensure_day(run.user_id, utc_today())) or 0)
        checks.append(("user_daily", used, settings.AGENT_COST_BUDGET_DAILY))
    for scope, used, limit in checks:
        if used >= to_units(limit * WARNING_SHARE) and cache.add(_warned_key(run.pk, scope), 1, RUN_TTL):
            events.emit(
                run, catalogue.BudgetWarningEvent(scope=scope, used_usd=float(to_usd(used)), limit_usd=float(limit))
            )
