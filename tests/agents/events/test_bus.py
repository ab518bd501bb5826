"""The bus: wake-ups across threads and event loops, in one process and, through Redis, across processes."""

import asyncio
import os
import threading
import time

import pytest
import redis

from agents.events import bus
from agents.events.bus import LocalBus, RedisBus

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"


def run_in_loop_thread(coroutine_factory):
    """Run a coroutine in a fresh event loop on its own thread; return (thread, result holder)."""
    result: dict = {}

    def target():
        result["value"] = asyncio.run(coroutine_factory())

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


async def timed_wait(a_bus: LocalBus, run_id: str, after_seq: int, timeout: float) -> float:
    started = time.monotonic()
    await a_bus.wait(run_id, after_seq, timeout)
    return time.monotonic() - started


def wait_for_listeners(a_bus: LocalBus, count: int) -> None:
    deadline = time.monotonic() + 5
    while a_bus.listener_count() < count:
        assert time.monotonic() < deadline, "the listeners never started waiting"
        time.sleep(0.005)


def test_publish_from_another_thread_wakes_listeners_in_several_loops():
    local = LocalBus()
    listeners = [run_in_loop_thread(lambda: timed_wait(local, "run-1", 0, timeout=10)) for _ in range(3)]
    wait_for_listeners(local, 3)
    local.publish("run-1", 1)
    for thread, result in listeners:
        thread.join(5)
        assert result["value"] < 2, "woken by the publish, not by the 10 s timeout"
    assert local.listener_count() == 0


def test_a_publish_just_before_waiting_is_not_missed():
    local = LocalBus()
    local.publish("run-1", 5)
    elapsed = asyncio.run(timed_wait(local, "run-1", 4, timeout=10))
    assert elapsed < 0.5, "the bus remembers the newest seq of the run"


def test_listeners_that_already_have_the_seq_or_wait_on_another_run_sleep_on():
    local = LocalBus()

    async def scenario():
        behind = asyncio.ensure_future(local.wait("run-1", 2, timeout=10))
        caught_up = asyncio.ensure_future(local.wait("run-1", 3, timeout=0.3))
        other_run = asyncio.ensure_future(local.wait("run-2", 0, timeout=0.3))
        await asyncio.sleep(0.05)
        await asyncio.to_thread(local.publish, "run-1", 3)
        await asyncio.wait_for(behind, 2)
        assert not caught_up.done() and not other_run.done()
        await asyncio.gather(caught_up, other_run)  # both end by their own timeout

    asyncio.run(scenario())
    assert local.listener_count() == 0


def test_timeout_and_cancel_leave_no_listener_behind():
    local = LocalBus()

    async def scenario():
        started = time.monotonic()
        await local.wait("run-1", 0, timeout=0.05)
        assert time.monotonic() - started < 1
        task = asyncio.ensure_future(local.wait("run-1", 0, timeout=10))
        await asyncio.sleep(0.01)
        assert local.listener_count() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert local.listener_count() == 0


def test_publish_never_raises_even_for_a_listener_whose_loop_is_gone():
    local = LocalBus()
    loop = asyncio.new_event_loop()
    future = loop.create_future()
    from agents.events.bus import _Waiter

    local._waiters["run-1"] = {_Waiter(loop, future, 0)}
    loop.close()
    local.publish("run-1", 1)  # call_soon_threadsafe on a closed loop: swallowed
    bus.publish("run-1", 2)  # the module-level helper never raises either
    assert local.listener_count() == 0


def test_the_bus_remembers_a_bounded_number_of_runs(monkeypatch):
    monkeypatch.setattr(bus, "REMEMBERED_RUNS", 3)
    local = LocalBus()
    for number in range(5):
        local.publish(f"run-{number}", 1)
    assert list(local._latest) == ["run-2", "run-3", "run-4"]


def test_process_bus_follows_settings(settings):
    previous = bus.set_bus(None)
    try:
        settings.REDIS_URL = None
        assert type(bus.get_bus()) is LocalBus
        bus.set_bus(None)
        settings.REDIS_URL = REDIS_URL
        redis_bus = bus.get_bus()
        assert isinstance(redis_bus, RedisBus)
        redis_bus.close()
    finally:
        bus.set_bus(previous)


@pytest.fixture
def redis_buses():
    """Two Redis buses on separate connections, as two processes would have; fails if Redis is down."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is unreachable at {REDIS_URL}: {exc}")
    channel = f"agents:test-bus:{os.getpid()}:{time.monotonic_ns()}"
    publisher, listener = RedisBus(REDIS_URL, channel=channel), RedisBus(REDIS_URL, channel=channel)
    listener.start()
    assert listener.subscribed.wait(5), "the subscriber did not subscribe within 5 s"
    yield publisher, listener
    publisher.close()
    listener.close()


def test_redis_publish_on_one_bus_wakes_a_listener_of_another(redis_buses):
    publisher, listener = redis_buses
    thread, result = run_in_loop_thread(lambda: timed_wait(listener, "run-9", 0, timeout=10))
    wait_for_listeners(listener, 1)
    publisher.publish("run-9", 1)
    thread.join(5)
    assert result["value"] < 2, "woken through Redis, not by the timeout"
    assert listener._latest["run-9"] == 1, "the listener's process now knows the run's newest seq"
    assert publisher.listener_count() == 0 and listener.listener_count() == 0


def test_redis_bus_survives_an_unreachable_redis():
    dead = RedisBus("redis://127.0.0.1:1/0", channel="agents:test-dead")
    try:
        started = time.monotonic()
        for seq in range(1, 20):
            dead.publish("run-1", seq)  # never raises; after the first failure Redis is skipped for a while
        assert time.monotonic() - started < 2.5
        elapsed = asyncio.run(timed_wait(dead, "run-1", 0, timeout=5))
        assert elapsed < 0.5, "local listeners are still woken"
    finally:
        dead.close()


def test_redis_carries_the_frame_to_another_process_bus(redis_buses):
    publisher, listener = redis_buses
    frame = ("text", '{"type":"text","delta":"with spaces and \\u00e9"}')
    publisher.publish("run-10", 1, frame=frame)
    publisher.publish("run-10", 2, frame=("done", '{"type":"done"}'))
    deadline = time.monotonic() + 5
    while listener.frames_after("run-10", 0) != [(1, *frame), (2, "done", '{"type":"done"}')]:
        assert time.monotonic() < deadline, f"frames not received: {listener.frames_after('run-10', 0)}"
        time.sleep(0.01)
    assert listener.frames_after("run-10", 1) == [(2, "done", '{"type":"done"}')]
    assert listener.frames_after("run-10", 2) == []


def test_frames_in_memory_are_contiguous_and_bounded(monkeypatch):
    from agents.events import bus as bus_module

    monkeypatch.setattr(bus_module, "FRAMES_PER_RUN", 3)
    local = LocalBus()
    for seq in (1, 2, 3, 5):
        local.publish("run-1", seq, frame=("text", f'{{"seq":{seq}}}'))
    assert [seq for seq, _, _ in local.frames_after("run-1", 1)] == [2, 3], "stops at the gap before 5"
    assert local.frames_after("run-1", 0) == [], "seq 1 left memory: read it from the database"
    assert local.frames_after("run-unknown", 0) == []
