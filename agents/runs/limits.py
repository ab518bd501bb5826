"""Per-user limits on starting runs: the message rate and the token budget.

Both live in the default cache (LocMem in the embedded default, Redis when
``REDIS_URL`` is set, so every process shares them) and are checked before
anything is stored or any model is called.

Message rate (``AGENT_RATE_LIMIT``, e.g. ``20/m``): a rolling window per user
(``agents_platform.sliding_window``, 60 buckets per period in the shared
cache). Guarantee: in no span of the period (60 s for ``/m``) does one user
have more accepted messages than the limit, however the requests are spread
over time and over processes sharing the cache (with Redis; LocMem is one
process's own). A message keeps counting for between one period and 61/60 of
it. Only accepted messages count. The service peeks first (``rate_check``:
refuse when the window is full, count nothing) and counts a message only once
its run is created (``rate_hit``, inside the run's transaction: add, then
read; when a concurrent request took the last place, the count is taken back,
RateLimited is raised and the run rolls back). A 400, 404, 409, 422 or a
budget 429 never uses up the rate.

Token budget (``AGENT_TOKEN_BUDGET`` per rolling minute): tokens are counted in
six buckets of ten seconds per user; the "minute" is the current bucket and
the five before it, so it rolls in ten-second steps and is between 50 and 60
seconds long. That keeps every operation a single atomic ``cache.incr`` on a
small key (works on LocMem and Redis alike, no Lua, no sorted sets) while
being far closer to a rolling minute than a fixed one. Before a run starts an
estimate is reserved in the current bucket (add first, then read the window;
over budget means take it back and refuse, so two racing requests can never
both squeeze in). After the run the reservation is replaced by the run's real
usage (``budget_settle``).
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from agents.exceptions import BudgetExceeded, RateLimited
from agents.llm.tokens import estimate_tokens
from agents_platform.sliding_window import SlidingWindow

RATE_GROUP = "agent-stream"
BUCKET_SECONDS = 10
BUCKETS = 6
WINDOW_SECONDS = BUCKET_SECONDS * BUCKETS
# Keys outlive the window a little so a bucket is never read after it expired.
BUCKET_TTL = WINDOW_SECONDS + BUCKET_SECONDS + 5
# What a run is assumed to cost before it ran: a floor for the planner's
# system prompt, history and answer, plus the message twice (routing call and
# synthesis see it). Real usage replaces it after the run; this only keeps
# concurrent starts from overrunning the budget.
RUN_ESTIMATE_FLOOR = 1000


def _rate_window() -> SlidingWindow:
    return SlidingWindow(RATE_GROUP, settings.AGENT_RATE_LIMIT)


def rate_used(*, user_id: int) -> int:
    """Return how many of the user's accepted messages count against the rate now."""
    return _rate_window().count(str(user_id))


def rate_check(*, user_id: int) -> None:
    """Refuse with RateLimited when the user's window is already full; count nothing."""
    retry_after = _rate_window().retry_after(str(user_id))
    if retry_after is not None:
        raise RateLimited(retry_after=retry_after)


def rate_hit(*, user_id: int) -> None:
    """Count one accepted message; when it does not fit, count nothing and raise RateLimited."""
    taken, retry_after = _rate_window().take(str(user_id))
    if taken is None:
        raise RateLimited(retry_after=retry_after)


@dataclass(frozen=True)
class Reservation:
    """Tokens held in one bucket of a user's budget until the run settles."""

    user_id: int
    bucket: int
    tokens: int


def estimate_run_tokens(message: str) -> int:
    """Return the tokens reserved for a run before it starts: a floor, and twice the message's estimate."""
    return RUN_ESTIMATE_FLOOR + 2 * estimate_tokens(message)


def _bucket_key(user_id: int, bucket: int) -> str:
    return f"agent-budget:{user_id}:{bucket}"


def _hold_key(run_id: str) -> str:
    return f"agent-budget-hold:{run_id}"


def _settled_key(run_id: str) -> str:
    return f"agent-budget-settled:{run_id}"


def _add(key: str, delta: int) -> None:
    """Add ``delta`` to a bucket atomically; a negative delta on an expired bucket is moot."""
    if delta == 0:
        return
    try:
        cache.incr(key, delta)
    except ValueError:
        if delta < 0:
            return
        if not cache.add(key, delta, BUCKET_TTL):
            cache.incr(key, delta)  # someone created it between our incr and add


def _window(user_id: int, now: float) -> dict[int, int]:
    current = int(now // BUCKET_SECONDS)
    buckets = range(current - BUCKETS + 1, current + 1)
    values = cache.get_many([_bucket_key(user_id, bucket) for bucket in buckets])
    return {bucket: int(values.get(_bucket_key(user_id, bucket)) or 0) for bucket in buckets}


def budget_used(*, user_id: int) -> int:
    """Return the tokens used or reserved by the user in the rolling minute."""
    return sum(_window(user_id, time.time()).values())


def _retry_after(window: dict[int, int], tokens: int, budget: int, now: float) -> int:
    """Return the seconds until enough old buckets leave the window for ``tokens`` to fit."""
    remaining = sum(window.values())
    for bucket in sorted(window):
        remaining -= window[bucket]
        if remaining + tokens <= budget:
            return max(1, math.ceil((bucket + BUCKETS) * BUCKET_SECONDS - now))
    return WINDOW_SECONDS


def budget_reserve(*, user_id: int, tokens: int) -> Reservation:
    """Hold ``tokens`` of the user's budget; raise BudgetExceeded when they do not fit.

    A single request never asks for more than the whole budget, so an idle
    user can always start a run.
    """
    budget = settings.AGENT_TOKEN_BUDGET
    tokens = max(0, min(tokens, budget))
    now = time.time()
    reservation = Reservation(user_id=user_id, bucket=int(now // BUCKET_SECONDS), tokens=tokens)
    key = _bucket_key(user_id, reservation.bucket)
    _add(key, tokens)
    window = _window(user_id, now)
    if sum(window.values()) > budget:
        _add(key, -tokens)
        window[reservation.bucket] = max(0, window.get(reservation.bucket, 0) - tokens)
        raise BudgetExceeded(retry_after=_retry_after(window, tokens, budget, now))
    return reservation


def budget_release(reservation: Reservation) -> None:
    """Give back a reservation whose run was never created."""
    _add(_bucket_key(reservation.user_id, reservation.bucket), -reservation.tokens)


def budget_attach(reservation: Reservation, *, run_id: str) -> None:
    """Remember which bucket holds the run's reservation, for ``budget_settle``."""
    cache.set(_hold_key(str(run_id)), (reservation.bucket, reservation.tokens), BUCKET_TTL)


def budget_settle(*, user_id: int, run_id: str, tokens_used: int) -> bool:
    """Replace the run's reservation with the tokens it really used; once per run.

    Returns False when the run was already settled. A reservation whose bucket
    already left the window is simply gone; the real usage is counted now.
    """
    run_id = str(run_id)
    if not cache.add(_settled_key(run_id), 1, BUCKET_TTL * 2):
        return False
    hold = cache.get(_hold_key(run_id))
    if hold is not None:
        cache.delete(_hold_key(run_id))
        bucket, reserved = hold
        _add(_bucket_key(user_id, bucket), -reserved)
    if tokens_used > 0:
        _add(_bucket_key(user_id, int(time.time() // BUCKET_SECONDS)), tokens_used)
    return True
