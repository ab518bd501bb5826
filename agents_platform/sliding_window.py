"""A rolling-window counter in the default cache: "at most N in any P seconds", across processes.

Used for the per-user message rate (``AGENT_RATE_LIMIT``) and the failed
sign-in limits (``LOGIN_FAILURE_LIMIT``). Both need the same thing: count
events per key, refuse the one that would put more than ``limit`` of them in
any span of ``period`` seconds, and work the same in one process (LocMem) and
in many (Redis, when ``REDIS_URL`` is set).

How: each key's events are counted in ``BUCKETS`` (60) buckets per period,
each ``period / 60`` seconds wide, one cache entry per bucket, changed only by
atomic ``cache.incr``. An event is taken by adding one to its bucket *first*,
then reading every bucket that could hold an event less than ``period``
seconds away from it, earlier or later (121 keys in one ``get_many``, one
MGET on Redis). Over the limit means it takes its one back and is refused.

The guarantee: for any key, no span of ``period`` seconds (measured by the
timestamps the processes took, so by clocks assumed in sync) ever holds more
than ``limit`` taken events. Proof sketch: of ``limit + 1`` events in one span,
the last to add its one would read all the others (they added theirs before
and never take an accepted one back), all within ``period`` of its own time,
so it would see more than ``limit`` and be refused. Reading later buckets too
is what makes this hold when a process stalls between reading the clock and
adding. The price of buckets: an event keeps counting for between ``period``
and ``period * 61/60`` seconds, so the limiter may refuse up to 1/60 of a
period early, never let one more through. Two events racing for the last
place may both be refused; never both taken.

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

    def _window(self, key: str, now: float) -> dict[int, int]:
        current = self._bucket(now)
        buckets = range(current - BUCKETS, current + BUCKETS + 1)
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
        return sum(self._window(key, time.time()).values())

    def retry_after(self, key: str) -> int | None:
        """Return the seconds until ``key`` may take one more event, or None when it may now."""
        now = time.time()
        window = self._window(key, now)
        if sum(window.values()) < self.rate.limit:
            return None
        return self._retry_after(window, now)

    def take(self, key: str) -> tuple[Taken | None, int]:
        """Count one event of ``key`` if it fits: ``(taken, 0)``, or ``(None, retry_after)`` with nothing counted."""
        now = time.time()
        taken = Taken(key=self._cache_key(key, self._bucket(now)), bucket=self._bucket(now))
        self._add(taken.key, 1)
        window = self._window(key, now)
        if sum(window.values()) <= self.rate.limit:
            return taken, 0
        self._add(taken.key, -1)
        window[taken.bucket] = max(0, window[taken.bucket] - 1)
        return None, self._retry_after(window, now)

    def give_back(self, taken: Taken) -> None:
        """Stop counting an event that was taken (e.g. a sign-in that succeeded)."""
        self._add(taken.key, -1)
