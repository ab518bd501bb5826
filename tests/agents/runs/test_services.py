"""Run services: ownership, one active run, idempotency, emit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents import events
from agents.events import catalogue
from agents.exceptions import ActiveRunExists, IdempotencyMismatch, RunNotFound
from agents.models import Memory, Run, RunEvent
from agents.runs import selectors, services
from agents_platform.errors import NotFound, http_status
from sessions.models import ChatSession, Message
from tests.factories import make_run, session_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_start_stores_message_session_and_queued_run(user):
    run, created = services.run_create(user=user, message="  hi there  ", context_type="ticket", entity_id="42")
    assert created
    assert run.status == Run.Status.QUEUED
    # The service stores the message as given: the request validation trims it (see below).
    assert run.user_message.content == "  hi there  "
    session = ChatSession.objects.get(pk=run.session_id)
    assert (session.user, session.context_type, session.entity_id) == (user, "ticket", "42")
    assert session.title


def test_run_start_on_other_users_session_is_not_found_and_writes_nothing(user, other_user):
    theirs = make_run(other_user)
    services.run_finish(run=theirs, status=Run.Status.COMPLETED)
    with pytest.raises(NotFound):
        services.run_create(user=user, message="sneak", session_id=theirs.session_id)
    assert Message.objects.filter(content="sneak").count() == 0
    assert Run.objects.count() == 1


def test_busy_session_refuses_second_run_with_active_run_id(user):
    run = make_run(user)
    with pytest.raises(ActiveRunExists) as info:
        services.run_create(user=user, message="again", session_id=run.session_id)
    assert http_status(info.value) == 409
    assert info.value.as_dict()["error"]["run_id"] == str(run.pk)
    assert Message.objects.filter(content="again").count() == 0


def test_idempotency_key_joins_same_run_and_refuses_other_body(user):
    first, created = services.run_create(user=user, message="hello", idempotency_key="k1")
    again, created_again = services.run_create(user=user, message="hello", idempotency_key="k1")
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(IdempotencyMismatch):
        services.run_create(user=user, message="different", idempotency_key="k1")
    assert Run.objects.count() == 1


def test_idempotency_key_expires_after_a_day(user):
    first, _ = services.run_create(user=user, message="hello", idempotency_key="k1")
    services.run_finish(run=first, status=Run.Status.COMPLETED)
    Run.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=25))
    second, created = services.run_create(user=user, message="hello", idempotency_key="k1")
    assert created and second.pk != first.pk


def test_emit_numbers_events_without_gaps_and_stores_before_returning(user):
    run = make_run(user)
    first = events.emit(run, session_event(run))
    second = events.emit(run.pk, catalogue.TextEvent(delta="hi", agent_id="a"))
    assert (first, second) == (1, 2)
    stored = list(RunEvent.objects.filter(run=run).values_list("seq", "type"))
    assert stored == [(1, "session"), (2, "text")]
    second = RunEvent.objects.get(run=run, seq=2)
    assert second.data["run_id"] == str(run.pk) and second.data["session_id"] == str(run.session_id)
    assert second.data["ts"].endswith("Z")
    run.refresh_from_db()
    assert run.last_event_seq == 2


def test_emit_takes_only_checked_events_of_the_catalogue(user):
    from pydantic import ValidationError

    run = make_run(user)
    with pytest.raises(TypeError):
        events.emit(run, "bogus")
    with pytest.raises(TypeError):
        events.emit(run, {"type": "text", "delta": "hi"})
    with pytest.raises(ValueError):
        events.emit(run)
    with pytest.raises(ValidationError):
        catalogue.TextEvent(delta="hi", seq=5)  # the fields every event carries are emit()'s, not the caller's
    with pytest.raises(ValidationError):
        catalogue.AnalysisEvent(strategy="sideways", reason="")
    assert not RunEvent.objects.exists()


def test_run_finish_only_once(user):
    run = make_run(user)
    assert services.run_finish(run=run, status=Run.Status.CANCELLED)
    assert not services.run_finish(run=run, status=Run.Status.COMPLETED)
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED


def test_selectors_never_return_other_users_rows(user, other_user):
    mine = make_run(user, "mine")
    theirs = make_run(other_user, "theirs")
    services.memory_create(user=other_user, content="secret of mallory")
    services.memory_create(user=user, content="alice likes tea")
    assert selectors.run_get(user=user, run_id=mine.pk) == mine
    with pytest.raises(RunNotFound):
        selectors.run_get(user=user, run_id=theirs.pk)
    with pytest.raises(RunNotFound):
        selectors.run_get(user=user, run_id="garbage")
    assert [m.content for m in selectors.memory_list(user=user)] == ["alice likes tea"]
    assert selectors.memory_list(user=user, query="secret") == []
    assert not services.memory_delete(user=user, memory_id=Memory.objects.get(user=other_user).pk)
    assert Memory.objects.filter(user=other_user).exists()


def test_emit_refuses_events_after_the_run_finished_except_closing_ones(user):
    from agents.exceptions import RunGone

    run = make_run(user)
    events.emit(run, session_event(run))
    assert services.run_finish(run=run, status=Run.Status.INTERRUPTED, error_code="interrupted", error_message="gone")
    with pytest.raises(RunGone):
        events.emit(run, catalogue.TextEvent(delta="late", agent_id="a"))
    stored = list(RunEvent.objects.filter(run=run).values_list("type", flat=True))
    assert stored == ["session", "error", "done"]
    assert not services.run_finish(run=run, status=Run.Status.FAILED, error_code="late", error_message="x")
    assert RunEvent.objects.filter(run=run).count() == 3


def test_duration_of_a_run_that_never_started_counts_from_creation(user):
    run = make_run(user)
    services.run_finish(run=run, status=Run.Status.INTERRUPTED)
    run.refresh_from_db()
    assert run.started_at is None and run.duration_ms is not None and run.duration_ms >= 0
