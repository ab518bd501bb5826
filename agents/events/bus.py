"""How stream listeners learn that a run has new events.

The database is the source of truth for events; the bus only says "look
again". ``publish(run_id, seq)`` is called by ``emit()`` after an event
commits, from whatever thread the engine runs in. ``await wait(run_id,
after_seq, timeout)`` returns as soon as the run may have an event after
``after_seq``, or when the timeout passes. A wake-up that is lost (a process
without Redis, a Redis hiccup) costs a stream at most one poll interval,
because streams wait with a short timeout and read the database again.

Two implementations, chosen by settings:

- ``LocalBus`` (default, embedded): listeners are asyncio futures, possibly in
  several event loops; ``publish`` wakes them with
  ``loop.call_soon_threadsafe``. It remembers the newest seq published per
  run, so a listener that starts waiting just after a publish returns at once
  instead of missing it.
- ``RedisBus`` (``REDIS_URL`` set): wakes this process's listeners at once,
  then publishes ``"<run_id> <seq>"`` on one channel through a pooled sync
  client; one subscriber thread per process turns those messages into local
  wake-ups, so a stream held by one process sees a run executing in another.

The subscriber is a thread, not a ``redis.asyncio`` task: listeners live in
several event loops (the server's, and in tests the test's own), and a task
would die with the loop it was started in. A thread wakes every loop through
the same ``call_soon_threadsafe`` path as a local publish. One channel for all
runs (not one per run) keeps subscriptions fixed: streams come and go without
SUBSCRIBE/UNSUBSCRIBE traffic, at the cost of every process receiving every
run's ~50-byte notices.

``publish`` never raises into the engine: failures are logged and the poll
covers them. It is cheap: a lock and a dict, plus one PUBLISH on a pooled
connection with Redis (skipped for a few seconds after a Redis failure, so a
dead Redis never slows the engine by a connect timeout per event).
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict

from django.conf import settings

logger = logging.getLogger(__name__)

# How many runs' newest seq a bus remembers (an LRU): enough for every run
# that is streaming now, small enough to never matter for memory.
REMEMBERED_RUNS = 10_000
# Frames kept in memory per run, for the runs published last (an LRU): a live
# stream sends them without reading the database; one that fell further
# behind reads the rest from there. At most ~FRAME_RUNS x FRAMES_PER_RUN frames.
FRAMES_PER_RUN = 128
FRAME_RUNS = 1_000
# After a Redis failure, publishes skip Redis for this long (the poll covers it).
REDIS_BACKOFF_SECONDS = 5.0
REDIS_SOCKET_TIMEOUT = 2.0


class _Waiter:
    __slots__ = ("after_seq", "future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, after_seq: int):
        self.loop = loop
        self.future = future
        self.after_seq = after_seq


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class LocalBus:
    """Wake asyncio listeners of this process, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[_Waiter]] = {}
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._frames: OrderedDict[str, OrderedDict[int, tuple[str, str]]] = OrderedDict()

    def publish(self, run_id: str, seq: int, *, frame: tuple[str, str] | None = None) -> None:
        """Say that run ``run_id`` has stored event ``seq`` (with its (type, JSON) frame); never raises."""
        try:
            self.notify(run_id, seq, frame=frame)
        except Exception:
            logger.exception("Bus: could not wake listeners of run %s", run_id)

    def frames_after(self, run_id: str, after_seq: int) -> list[tuple[int, str, str]]:
        """Return the frames held in memory right after ``after_seq``, in order, without a gap (maybe none)."""
        with self._lock:
            held = self._frames.get(run_id)
            if not held:
                return []
            found, seq = [], after_seq + 1
            while seq in held:
                event_type, data = held[seq]
                found.append((seq, event_type, data))
                seq += 1
            return found

    def _keep_frame(self, run_id: str, seq: int, frame: tuple[str, str]) -> None:
        held = self._frames.get(run_id)
        if held is None:
            held = self._frames[run_id] = OrderedDict()
            if len(self._frames) > FRAME_RUNS:
                self._frames.popitem(last=False)
        else:
            self._frames.move_to_end(run_id)
        held[seq] = frame
        while len(held) > FRAMES_PER_RUN:
            held.popitem(last=False)

    def notify(self, run_id: str, seq: int, *, frame: tuple[str, str] | None = None) -> None:
        """Wake this process's listeners of ``run_id`` that have not seen ``seq``; keep its frame for them."""
        with self._lock:
            if frame is not None:
                self._keep_frame(run_id, seq, frame)
            if self._latest.get(run_id, 0) < seq:
                self._latest[run_id] = seq
                self._latest.move_to_end(run_id)
                if len(self._latest) > REMEMBERED_RUNS:
                    self._latest.popitem(last=False)
            waiters = self._waiters.get(run_id)
            if not waiters:
                return
            ready = [waiter for waiter in waiters if waiter.after_seq < seq]
            waiters.difference_update(ready)
            if not waiters:
                del self._waiters[run_id]
        for waiter in ready:
            # A closed loop raises RuntimeError: nobody is listening there any more.
            with contextlib.suppress(RuntimeError):
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)

    async def wait(self, run_id: str, after_seq: int, timeout: float) -> None:
        """Return when run ``run_id`` may have an event after ``after_seq``, or after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop, loop.create_future(), after_seq)
        with self._lock:
            if self._latest.get(run_id, 0) > after_seq:
                return
            self._waiters.setdefault(run_id, set()).add(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter.future
        except TimeoutError:
            pass
        finally:
            with self._lock:
                waiters = self._waiters.get(run_id)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[run_id]

    def listener_count(self) -> int:
        """Return how many listeners are waiting now (for tests and the bench)."""
        with self._lock:
            return sum(len(waiters) for waiters in self._waiters.values())

    def close(self) -> None:
        """Release what the bus holds (nothing for the local bus)."""


class RedisBus(LocalBus):
    """Wake listeners in every process through one Redis pub/sub channel."""

    def __init__(self, url: str, *, channel: str | None = None) -> None:
        super().__init__()
        import redis  # only needed when REDIS_URL is set

        self._redis = redis
        # One pooled client for publishes: no connection per event.
        self._client = redis.Redis.from_url(
            url, socket_timeout=REDIS_SOCKET_TIMEOUT, socket_connect_timeout=REDIS_SOCKET_TIMEOUT
        )
        # Pub/sub ignores database numbers: name the channel after the database so
        # two deployments (or test runs) sharing one Redis do not wake each other.
        database = self._client.connection_pool.connection_kwargs.get("db", 0)
        self.channel = channel or f"agents:run-events:{database}"
        self._publish_paused_until = 0.0
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        self.subscribed = threading.Event()
        self._subscriber: threading.Thread | None = None

    def publish(self, run_id: str, seq: int, *, frame: tuple[str, str] | None = None) -> None:
        """Wake local listeners at once, then tell the other processes (with the frame); never raises."""
        super().publish(run_id, seq, frame=frame)
        if time.monotonic() < self._publish_paused_until:
            return
        message = f"{run_id} {seq}" if frame is None else f"{run_id} {seq} {frame[0]} {frame[1]}"
        try:
            self._client.publish(self.channel, message)
        except Exception as exc:
            self._publish_paused_until = time.monotonic() + REDIS_BACKOFF_SECONDS
            logger.warning("Bus: Redis publish failed (%s); streams fall back to polling for a while", exc)

    async def wait(self, run_id: str, after_seq: int, timeout: float) -> None:
        """Return when the run may have a new event, from this process or another one."""
        self.start()
        await super().wait(run_id, after_seq, timeout)

    def start(self) -> None:
        """Start this process's subscriber thread, once."""
        if self._subscriber is not None:
            return
        with self._start_lock:
            if self._subscriber is None:
                self._subscriber = threading.Thread(target=self._listen, name="agents-bus-subscriber", daemon=True)
                self._subscriber.start()

    def _listen(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self.subscribed.set()
                backoff = 0.5
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None and message.get("type") == "message":
                        self._on_message(message["data"])
            except Exception as exc:
                if self._stopping.is_set():
                    break
                logger.warning("Bus: Redis subscriber lost (%s); retrying in %.1f s", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.subscribed.clear()
                try:
                    pubsub.close()
                except Exception:
                    logger.debug("Bus: closing the subscription failed", exc_info=True)

    def _on_message(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        parts = text.split(" ", 3)
        try:
            frame = (parts[2], parts[3]) if len(parts) == 4 else None
            self.notify(parts[0], int(parts[1]), frame=frame)
        except (ValueError, IndexError):
            logger.warning("Bus: ignored a malformed notice %r", text[:100])

    def close(self) -> None:
        """Stop the subscriber thread and close the client's connections."""
        self._stopping.set()
        if self._subscriber is not None:
            self._subscriber.join(timeout=5)
        self._client.close()


_bus: LocalBus | None = None
_bus_lock = threading.Lock()


def get_bus() -> LocalBus:
    """Return this process's bus: Redis when ``REDIS_URL`` is set, else in-process."""
    global _bus
    if _bus is None:
        with _bus_lock:
            if _bus is None:
                _bus = RedisBus(settings.REDIS_URL) if settings.REDIS_URL else LocalBus()
    return _bus


def set_bus(bus: LocalBus | None) -> LocalBus | None:
    """Replace this process's bus (None: build it again from settings); return the old one."""
    global _bus
    with _bus_lock:
        previous, _bus = _bus, bus
    return previous


def session_key(session_id: str) -> str:
    """Return the key under which a session's new runs are announced (its feed waits on it)."""
    return f"session:{session_id}"


def publish(run_id: str, seq: int, *, frame: tuple[str, str] | None = None) -> None:
    """Say that run ``run_id`` has stored event ``seq`` (with its frame); never raises into the caller."""
    try:
        get_bus().publish(run_id, seq, frame=frame)
    except Exception:
        logger.exception("Bus: publish of run %s seq %s failed", run_id, seq)


def frames_after(run_id: str, after_seq: int) -> list[tuple[int, str, str]]:
    """Return the run's frames this process holds in memory right after ``after_seq`` (maybe none)."""
    return get_bus().frames_after(run_id, after_seq)


async def wait(run_id: str, after_seq: int, timeout: float) -> None:
    """Return when run ``run_id`` may have an event after ``after_seq``, or after ``timeout`` seconds."""
    await get_bus().wait(run_id, after_seq, timeout)
