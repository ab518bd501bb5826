"""Per-user limits: the rolling message rate and the rolling-minute token budget."""

import threading
import time

import pytest

from agents.exceptions import BudgetExceeded, RateLimited
from agents.runs import limits
from agents_platform.errors import http_status


class Clock:
    """A settable stand-in for the ``time`` module as limits.py uses it."""

    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    # Start just after a bucket boundary, so "the same bucket" is unambiguous.
    fake = Clock(1_800_000_000.5)
    monkeypatch.setattr(limits, "time", fake)
    return fake


def test_rate_check_counts_nothing_and_rate_hit_counts_accepted_messages(settings):
    settings.AGENT_RATE_LIMIT = "2/m"
    for _ in range(5):
        limits.rate_check(user_id=1)
    limits.rate_hit(user_id=1)
    limits.rate_check(user_id=1)
    limits.rate_hit(user_id=1)
    with pytest.raises(RateLimited) as refused:
        limits.rate_check(user_id=1)
    assert http_status(refused.value) == 429 and refused.value.code == "rate_limited"
    assert 1 <= refused.value.retry_after <= 61  # a message counts for a minute plus at most one 1-s bucket
    assert refused.value.headers["Retry-After"] == str(refused.value.retry_after)
    limits.rate_check(user_id=2)  # another user has their own window


def test_rate_hit_refuses_the_request_that_raced_past_the_check(settings):
    settings.AGENT_RATE_LIMIT = "1/m"
    limits.rate_check(user_id=1)
    limits.rate_check(user_id=1)  # two requests both saw a free slot
    limits.rate_hit(user_id=1)
    with pytest.raises(RateLimited):
        limits.rate_hit(user_id=1)


@pytest.fixture
def global_clock(monkeypatch):
    """Control ``time.time`` for every module (the limiter and the LocMem cache's expiry alike)."""
    fake = Clock(time.time())
    monkeypatch.setattr(time, "time", fake.time)
    return fake


def accept(user_id: int) -> bool:
    """Do what admission does: check, then count; return whether the message was accepted."""
    try:
        limits.rate_check(user_id=user_id)
        limits.rate_hit(user_id=user_id)
    except RateLimited:
        return False
    return True


def test_no_60_second_span_holds_more_accepted_messages_than_the_limit(settings, global_clock):
    settings.AGENT_RATE_LIMIT = "20/m"
    start = global_clock.now
    accepted = []
    for i in range(40):  # twice the limit, spread evenly over 61 s
        global_clock.now = start + i * 61 / 39
        if accept(1):
            accepted.append(global_clock.now)
    assert len(accepted) >= 20
    for first in accepted:
        in_span = [t for t in accepted if first <= t < first + 60]
        assert len(in_span) <= 20, f"{len(in_span)} messages accepted within 60 s from {first - start:.1f} s"


def test_a_full_window_opens_again_when_its_oldest_message_leaves(settings, global_clock):
    settings.AGENT_RATE_LIMIT = "3/m"
    start = global_clock.now
    for offset in (0, 10, 20):
        global_clock.now = start + offset
        assert accept(1)
    global_clock.now = start + 30
    with pytest.raises(RateLimited) as refused:
        limits.rate_check(user_id=1)
    # The message at 0 s counts for 60 s plus at most one bucket (1 s at /m).
    assert 30 <= refused.value.retry_after <= 31
    global_clock.now = start + 30 + refused.value.retry_after
    assert accept(1)
    assert not accept(1), "the messages at 10 s and 20 s still count"
    assert limits.rate_used(user_id=1) == 3


def test_racing_messages_never_overrun_the_rate(settings):
    settings.AGENT_RATE_LIMIT = "5/m"
    results = []
    barrier = threading.Barrier(20)

    def send():
        barrier.wait()
        results.append(accept(1))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= results.count(True) <= 5
    assert limits.rate_used(user_id=1) == results.count(True), "refused messages are not counted"


def test_budget_reserves_until_full_then_refuses_with_retry_after(settings, clock):
    settings.AGENT_TOKEN_BUDGET = 3000
    first = limits.budget_reserve(user_id=1, tokens=1000)
    clock.now += 25  # two buckets later
    limits.budget_reserve(user_id=1, tokens=1500)
    assert limits.budget_used(user_id=1) == 2500
    with pytest.raises(BudgetExceeded) as refused:
        limits.budget_reserve(user_id=1, tokens=1000)
    assert refused.value.code == "token_budget_exceeded" and http_status(refused.value) == 429
    # The first reservation's bucket leaves the window 60 s after it began: 35 s from now.
    assert refused.value.retry_after == 35
    assert limits.budget_used(user_id=1) == 2500, "a refused reservation is taken back"
    assert limits.budget_used(user_id=2) == 0
    clock.now += 35
    limits.budget_reserve(user_id=1, tokens=1000)
    assert first.tokens == 1000


def test_one_request_never_needs_more_than_the_whole_budget(settings, clock):
    settings.AGENT_TOKEN_BUDGET = 500
    reservation = limits.budget_reserve(user_id=1, tokens=5000)
    assert reservation.tokens == 500
    with pytest.raises(BudgetExceeded) as refused:
        limits.budget_reserve(user_id=1, tokens=1)
    assert refused.value.retry_after == 60


def test_settle_replaces_the_reservation_with_real_usage_once(settings, clock):
    settings.AGENT_TOKEN_BUDGET = 10_000
    reservation = limits.budget_reserve(user_id=1, tokens=1000)
    limits.budget_attach(reservation, run_id="run-1")
    clock.now += 12
    assert limits.budget_settle(user_id=1, run_id="run-1", tokens_used=2345)
    assert limits.budget_used(user_id=1) == 2345
    assert not limits.budget_settle(user_id=1, run_id="run-1", tokens_used=2345), "settled once"
    assert limits.budget_used(user_id=1) == 2345


def test_settle_after_the_reservation_left_the_window_counts_the_usage(settings, clock):
    settings.AGENT_TOKEN_BUDGET = 10_000
    reservation = limits.budget_reserve(user_id=1, tokens=1000)
    limits.budget_attach(reservation, run_id="run-1")
    clock.now += 90  # a very long run
    limits.budget_settle(user_id=1, run_id="run-1", tokens_used=700)
    assert limits.budget_used(user_id=1) == 700


def test_release_gives_a_reservation_back(settings, clock):
    settings.AGENT_TOKEN_BUDGET = 1000
    reservation = limits.budget_reserve(user_id=1, tokens=1000)
    limits.budget_release(reservation)
    assert limits.budget_used(user_id=1) == 0
    limits.budget_reserve(user_id=1, tokens=1000)


def test_concurrent_reservations_never_overrun_the_budget(settings):
    settings.AGENT_TOKEN_BUDGET = 10_000
    granted, refused = [], []
    barrier = threading.Barrier(20)

    def reserve():
        barrier.wait()
        try:
            granted.append(limits.budget_reserve(user_id=1, tokens=1000))
        except BudgetExceeded:
            refused.append(1)

    threads = [threading.Thread(target=reserve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) + len(refused) == 20
    assert len(granted) <= 10 and limits.budget_used(user_id=1) == 1000 * len(granted) <= 10_000


def test_estimate_grows_with_the_message():
    assert limits.estimate_run_tokens("") == limits.RUN_ESTIMATE_FLOOR
    assert limits.estimate_run_tokens("x" * 4000) == limits.RUN_ESTIMATE_FLOOR + 2000  # 1,000 tokens, twice
    # The platform's one estimate (agents.llm.tokens): words count when they outnumber characters / 4.
    assert limits.estimate_run_tokens("a b c d e f") == limits.RUN_ESTIMATE_FLOOR + 12
