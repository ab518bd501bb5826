"""The rolling-window counter under the message rate and the sign-in limits."""

import time

import pytest

from agents_platform.sliding_window import Rate, SlidingWindow


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = time.time()

        @classmethod
        def time(cls):
            return cls.now

    monkeypatch.setattr(time, "time", Clock.time)
    return Clock


@pytest.mark.parametrize(
    ("text", "limit", "period"),
    [("20/m", 20, 60), ("5/15m", 5, 900), ("1/s", 1, 1), ("100/h", 100, 3600), ("1000/2d", 1000, 172800)],
)
def test_rate_parses_count_and_period(text, limit, period):
    assert Rate.parse(text) == Rate(limit=limit, period=period)


@pytest.mark.parametrize("text", ["lots", "20", "0/m", "20/0m", "20/w", "-1/m"])
def test_rate_refuses_what_is_not_a_rate(text):
    with pytest.raises(ValueError):
        Rate.parse(text)


def test_an_event_from_a_process_that_read_the_clock_earlier_still_sees_later_ones(clock):
    """A process may read the clock, stall, and add after another process's later event."""
    window = SlidingWindow("test", "1/m")
    start = clock.now
    clock.now = start + 30
    taken, _ = window.take("k")
    assert taken is not None
    clock.now = start  # the stalled process adds with its earlier time
    refused, retry_after = window.take("k")
    assert refused is None, "two events within 30 s under a limit of one per minute"
    assert 90 <= retry_after <= 92, "it waits until the later event is a minute old"


def test_give_back_frees_the_place_and_keys_are_separate(clock):
    window = SlidingWindow("test", "2/m")
    first, _ = window.take("a")
    window.take("a")
    assert window.take("a")[0] is None
    assert window.take("b")[0] is not None
    window.give_back(first)
    assert window.count("a") == 1
    assert window.take("a")[0] is not None


def test_each_event_counts_for_one_period_plus_at_most_one_bucket(clock):
    window = SlidingWindow("test", "1/m")
    start = clock.now
    window.take("k")
    clock.now = start + 59.9
    assert window.retry_after("k") is not None
    clock.now = start + 61.0
    assert window.retry_after("k") is None
