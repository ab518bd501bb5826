"""A rolling-window counter in the default cache: "at most N in any P seconds", across processes.

Used for the per-user message rate (``AGENT_RATE_LIMIT``) and the failed
sign-in limits (``LOGIN_FAILURE_LIMIT``). Both need the same thing: count
events per key, refuse the one that would put more than ``limit`` of them in
any span of ``period`` seconds, and work the same in one process (LocMem) and
in many (Redis, when ``REDIS_URL`` is set).

How: each key's events are counted in ``BUCKETS`` (60) buckets per period,
each ``period / 60`` seconds wide, one cache entry per bucket, changed only by
atomic ``cache.incr``. An event reads the clock (``t``), adds one to the
bucket of ``t`` *first*, reads the clock again (``t2``), then reads every
bucket from one period before ``t`` up to ``t2`` (about 61 keys in one
``get_many``, one MGET on Redis). Over the limit means it takes its one back
and is refused.

The guarantee: for any key, no span of ``period`` seconds (measured by the
timestamps the events took, so by clocks assumed in sync) ever holds more
than ``limit`` taken events. Proof sketch: of ``limit + 1`` events in one
span, take the last to add its one. Every other added before it (and an
accepted one is never taken back), so read its clock before our ``t2``; and
it is less than a period from our ``t``. So we read its bucket, see more than
``limit`` and refuse. Reading up to ``t2``, not ``t``, is what keeps this true
when a process stalls between reading the clock and adding. The price of
buckets: an event keeps counting for between ``period`` and ``period * 61/60``
seconds, so the limiter may refuse up to 1/60 of a period early, never let one
more through. Two events racing for the last place may both be refused; never
both taken.

Why not a Redis sorted set: it needs Lua for the check-and-add, a second
implementation for LocMem, and the server's clock, which tests cannot
control; buckets are one code path on both caches.
"""

import math
import re
import time
from dataclasses import dataclass

from django.core.cache import cache

BUCKETS = 60
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"([1-9]\d*)/([1-9]\d*)?([smhd])")


@dataclass(frozen=True)
class Rate:
    """A limit of ``limit`` events in any ``period`` seconds."""

    limit: int
    period: int

    @classmethod
    def parse(cls, rate: str) -> "Rate":
        """Return the rate of a string such as ``20/m``, ``5/15m`` or ``1000/d``."""
        match = _RATE.fullmatch(rate.strip())
        if match is None:
            raise ValueError(f"not a rate like '20/m': {rate!r}")
        count, multiplier, unit = match.groups()
        return cls(limit=int(count), period=int(multiplier or 1) * _UNIT_SECONDS[unit])


@dataclass(frozen=True)
class Taken:
    """One event counted in one bucket, so it can be given back."""

    key: str
    bucket: int


class SlidingWindow:
    """Count events per key under the cache prefix ``name`` with the rolling limit ``rate``."""

    def __init__(self, name: str, rate: Rate | str):
        self.name = name
        self.rate = Rate.parse(rate) if isinstance(rate, str) else rate
        # A bucket is read until 61/60 periods after it starts, by a process up to a period behind.
        self.ttl = math.ceil(2 * self.rate.period * (BUCKETS + 1) / BUCKETS) + 5

    def _bucket(self, now: float) -> int:
        return math.floor(now * BUCKETS / self.rate.period)

    def _cache_key(self, key: str, bucket: int) -> str:
        return f"{self.name}:{key}:{bucket}"

    def _window(self, key: str, since: float, until: float) -> dict[int, int]:
        """Return the key's count per bucket, from one period before ``since`` to ``until``."""
        buckets = range(self._bucket(since) - BUCKETS, self._bucket(until) + 1)
        values = cache.get_many([self._cache_key(key, bucket) for bucket in buckets])
        return {bucket: int(values.get(self._cache_key(key, bucket)) or 0) for bucket in buckets}

    def _retry_after(self, window: dict[int, int], now: float) -> int:
        """Return the seconds until enough buckets left the window for one more event."""
        remaining = sum(window.values())
        for bucket in sorted(window):
            remaining -= window[bucket]
            if remaining < self.rate.limit:
                # Bucket b is read while the current bucket is at most b + BUCKETS.
                leaves_at = (bucket + BUCKETS + 1) * self.rate.period / BUCKETS
                return max(1, math.ceil(leaves_at - now))
        return max(1, self.rate.period)

    def _add(self, key: str, delta: int) -> None:
        try:
            cache.incr(key, delta)
        except ValueError:  # no such key (never set, or expired)
            if delta < 0:
                return
            if not cache.add(key, delta, self.ttl):
                cache.incr(key, delta)  # someone created it between our incr and add

    def count(self, key: str) -> int:
        """Return how many events of ``key`` count now."""
        now = time.time()
        return sum(self._window(key, now, now).values())

    def retry_after(self, key: str) -> int | None:
        """Return the seconds until ``key`` may take one more event, or None when it may now."""
        now = time.time()
        window = self._window(key, now, now)
        if sum(window.values()) < self.rate.limit:
            return None
        return self._retry_after(window, now)

    def take(self, key: str) -> tuple[Taken | None, int]:
        """Count one event of ``key`` if it fits: ``(taken, 0)``, or ``(None, retry_after)`` with nothing counted."""
        now = time.time()
        taken = Taken(key=self._cache_key(key, self._bucket(now)), bucket=self._bucket(now))
        self._add(taken.key, 1)
        later = max(now, time.time())
        window = self._window(key, now, later)
        if sum(window.values()) <= self.rate.limit:
            return taken, 0
        self._add(taken.key, -1)
        window[taken.bucket] = max(0, window[taken.bucket] - 1)
        return None, self._retry_after(window, later)

    def give_back(self, taken: Taken) -> None:
        """Stop counting an event that was taken (e.g. a sign-in that succeeded)."""
        self._add(taken.key, -1)
