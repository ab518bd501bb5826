"""The rolling-window counter under the message rate and the sign-in limits."""

import time

import pytest

from agents_platform import sliding_window
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


def test_a_process_that_stalled_after_reading_the_clock_still_sees_later_events(monkeypatch):
    """B reads the clock, stalls; A takes an event 30 s later; then B adds and must see A's."""
    start = 1_800_000_000.0
    readings = iter([start + 30, start + 30, start, start + 31])  # A: t, t2; B: t (stale), t2

    class Clock:
        @staticmethod
        def time():
            return next(readings)

    monkeypatch.setattr(sliding_window, "time", Clock)
    window = SlidingWindow("test", "1/m")
    assert window.take("k")[0] is not None
    refused, retry_after = window.take("k")
    assert refused is None, "two events 30 s apart under a limit of one per minute"
    assert 60 <= retry_after <= 61, "it waits until A's event is a minute old"


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
