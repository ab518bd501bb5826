"""Group commit of a claimed run's events: numbered in memory, stored in batches, sent only once stored.

The run's owner numbers its events; the first thread with an event to write
writes every pending one in one transaction (one fenced UPDATE of the run, one
INSERT of the events), then publishes them; threads that emit meanwhile wait
for the next batch. These tests drive ``emit()`` from parallel threads on a
claimed run, hold a commit in flight to make the batching visible, fail a
commit to show that nothing unstored is sent, and stop a writer between its
commit and its publish to show that a stream still gets what was stored.
"""

import threading

import pytest

from agents import events
from agents.events import bus, catalogue
from agents.exceptions import RunGone
from agents.models import Run, RunEvent
from agents.runs import services
from tests.factories import make_run
from tests.support.live_server import wait_until
from tests.support.statements import count_statements

pytestmark = pytest.mark.django_db(transaction=True)


def claimed(user) -> Run:
    run = services.run_claim(run_id=make_run(user).pk, owner="host:1:test")
    assert run is not None and run.last_event_seq == 1  # the claim stored `session`
    return run


def text(n: int, agent: str = "a") -> catalogue.TextEvent:
    return catalogue.TextEvent(delta=f"{agent}-{n}", agent_id=agent)


def stored(run: Run) -> list[tuple[int, str]]:
    return list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", "data__delta"))


def test_parallel_emitters_get_seq_1_to_n_without_a_gap_each_in_its_own_order(user):
    run = claimed(user)
    threads, per_thread, failures = 6, 25, []

    def emit_many(agent: str) -> None:
        try:
            for n in range(per_thread):
                events.emit(run, text(n, agent))
        except Exception as exc:  # surfaced below
            failures.append(exc)

    workers = [threading.Thread(target=emit_many, args=(f"t{i}",)) for i in range(threads)]
    with count_statements() as statements:
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=60)
    assert not failures
    rows = stored(run)
    assert [seq for seq, _ in rows] == list(range(1, threads * per_thread + 2))
    for i in range(threads):
        mine = [delta for _, delta in rows if delta and delta.startswith(f"t{i}-")]
        assert mine == [f"t{i}-{n}" for n in range(per_thread)]
    run.refresh_from_db()
    assert run.last_event_seq == threads * per_thread + 1
    fences = [sql for sql in statements.sql if sql.startswith('UPDATE "agents_run"')]
    inserts = [sql for sql in statements.sql if sql.startswith('INSERT INTO "agents_runevent"')]
    assert len(fences) == len(inserts) <= threads * per_thread  # one fenced UPDATE and one INSERT per batch


def test_events_emitted_while_a_commit_is_in_flight_go_out_together_in_the_next_batch(user, monkeypatch):
    run = claimed(user)
    entered, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []
    original = events.RunLog._commit

    def slow_commit(self, batch, *args, **kwargs):
        batches.append([item.seq for item in batch])
        if len(batches) == 1:
            entered.set()
            assert release.wait(10)
        return original(self, batch, *args, **kwargs)

    monkeypatch.setattr(events.RunLog, "_commit", slow_commit)
    first = threading.Thread(target=events.emit, args=(run, text(0)))
    first.start()
    assert entered.wait(10)
    waiting = [threading.Thread(target=events.emit, args=(run, text(n, "w"))) for n in range(1, 6)]
    for thread in waiting:
        thread.start()
    log = events.log.log_for(run)
    wait_until(lambda: len(log.pending) == 5, "five events queued behind the commit in flight")
    assert stored(run)[-1][0] == 1, "nothing of the held batch is stored yet"
    release.set()
    for thread in [first, *waiting]:
        thread.join(timeout=10)
    assert batches == [[2], [3, 4, 5, 6, 7]]
    assert [seq for seq, _ in stored(run)] == list(range(1, 8))


def test_an_idle_emit_is_stored_and_published_before_it_returns(user, monkeypatch):
    run = claimed(user)
    published: list[tuple[int, bool]] = []

    def spy(run_id, seq, *, frame=None):
        published.append((seq, RunEvent.objects.filter(run_id=run_id, seq=seq).exists()))

    monkeypatch.setattr(bus, "publish", spy)
    seq = events.emit(run, text(1))
    assert published == [(seq, True)], "published once, after it was stored"


def test_a_batch_that_fails_to_store_is_never_sent_and_stops_the_attempt(user, monkeypatch):
    run = claimed(user)
    published: list[int] = []
    monkeypatch.setattr(bus, "publish", lambda run_id, seq, frame=None: published.append(seq))
    events.emit(run, text(1))

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(events.RunLog, "_commit", broken)
    with pytest.raises(RuntimeError):
        events.emit(run, text(2))
    monkeypatch.undo()
    assert published == [2]
    assert [seq for seq, _ in stored(run)] == [1, 2]
    # The seq handed out to the lost batch is not skipped: the next event takes it.
    assert events.emit(run, text(3)) == 3
    assert [seq for seq, _ in stored(run)] == [1, 2, 3]


def test_a_lost_owner_writes_nothing_and_the_next_owner_numbers_on_from_what_is_stored(user):
    run = claimed(user)
    events.emit(run, text(1))
    Run.objects.filter(pk=run.pk).update(lease_until="2000-01-01T00:00:00Z")
    new = services.run_claim(run_id=run.pk, owner="host:2:next")
    assert new is not None
    with pytest.raises(RunGone):
        events.emit(run, text(2, "old"))
    with pytest.raises(RunGone):
        events.emit(run, text(3, "old"))  # the lost log refuses at once
    assert events.emit(new, text(2, "new")) == 3
    assert stored(run) == [(1, None), (2, "a-1"), (3, "new-2")]


def test_a_writer_stopped_between_commit_and_publish_loses_nothing_a_stream_can_read(
    asgi_live_server, user, monkeypatch
):
    run = claimed(user)
    stopped, end_of_test = threading.Event(), threading.Event()

    def frozen(run_id, seq, *, frame=None):
        stopped.set()
        end_of_test.wait(60)  # the writer never gets to publish while the client reads (as if it had died here)

    monkeypatch.setattr(bus, "publish", frozen)
    writer = threading.Thread(target=events.emit, args=(run, text(1)), daemon=True)
    writer.start()
    try:
        assert stopped.wait(10)
        assert [seq for seq, _ in stored(run)] == [1, 2], "committed before the publish that never came"
        # A client that joins now replays it from the database, as stored.
        with asgi_live_server.client(user).join(run.pk, last_event_id=1) as stream:
            frames = stream.frames(events=1)
    finally:
        end_of_test.set()
        writer.join(timeout=10)
    received = [frame for frame in frames if frame.data is not None]
    assert [frame.id for frame in received] == [2]
    assert received[0].data == RunEvent.objects.get(run=run, seq=2).frame
