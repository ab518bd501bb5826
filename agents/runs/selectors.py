"""Reads of the engine's models, always scoped to one user where a user asks."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Sum, prefetch_related_objects
from django.utils import timezone

from agents.events import APPROVAL_REQUIRED, DONE
from agents.exceptions import RunNotFound
from agents.models import (
    Agent,
    AgentMessage,
    Execution,
    Memory,
    Plan,
    PlanStep,
    Run,
    RunEvent,
    WorkerProcess,
)
from sessions.models import ChatSession, Message


def run_get(*, user: AbstractBaseUser, run_id: uuid.UUID | str) -> Run:
    """Return the user's run, or raise RunNotFound (also for another user's id or a malformed one)."""
    try:
        return Run.objects.select_related("session").get(pk=run_id, user=user)
    except (Run.DoesNotExist, ValidationError, ValueError, TypeError):
        raise RunNotFound() from None


def run_list_for_session(*, session: ChatSession) -> QuerySet[Run]:
    """Return a session's runs, newest first."""
    return Run.objects.filter(session=session).order_by("-created_at")


def run_events_after(*, run_id: uuid.UUID | str, after_seq: int, limit: int = 500) -> list[RunEvent]:
    """Return up to ``limit`` stored events of a run with seq greater than ``after_seq``, in order."""
    return list(RunEvent.objects.filter(run_id=run_id, seq__gt=after_seq).order_by("seq")[:limit])


def run_frames_after(*, run_id: uuid.UUID | str, after_seq: int, limit: int = 500) -> list[tuple[int, str, str]]:
    """Return up to ``limit`` stored events after ``after_seq`` as (seq, type, JSON text as stored), in order."""
    rows = (
        RunEvent.objects.filter(run_id=run_id, seq__gt=after_seq)
        .order_by("seq")
        .values_list("seq", "type", "frame")[:limit]
    )
    return list(rows)


def memory_list(*, user: AbstractBaseUser, query: str | None = None, limit: int = 20) -> list[Memory]:
    """Return the user's memories, newest first, optionally those containing ``query``."""
    queryset = Memory.objects.filter(user=user)
    if query:
        queryset = queryset.filter(content__icontains=query)
    return list(queryset.order_by("-created_at")[:limit])


def run_control(*, run_id: uuid.UUID | str) -> tuple[bool, str, str, int] | None:
    """Return what an owner checks while it works: (cancel requested, status, owner, attempt); None if deleted."""
    return Run.objects.filter(pk=run_id).values_list("cancel_requested", "status", "owner", "attempt").first()


def run_deleted(*, run_id: uuid.UUID | str) -> bool:
    """Return whether the run no longer exists (deleted with its session): the one "is the run gone?" read."""
    return not Run.objects.filter(pk=run_id).exists()


def run_final_usage(*, run_id: uuid.UUID | str) -> tuple[int, int] | None:
    """Return (user id, total tokens) of a finished run; None while it is active or when it is gone."""
    row = Run.objects.filter(pk=run_id, status__in=Run.FINAL_STATUSES).values_list("user_id", "total_tokens").first()
    return (row[0], row[1]) if row else None


def run_streamed_answer(*, run_id: uuid.UUID | str) -> bool:
    """Return whether any answer text of the run was already sent as `text` events."""
    return RunEvent.objects.filter(run_id=run_id, type="text").exists()


def run_planner(*, run: Run) -> Agent | None:
    """Return the run's planner agent, if one was created (an earlier attempt's)."""
    return Agent.objects.filter(run=run, role=Agent.Role.PLANNER).order_by("created_at").first()


def run_plan(*, run: Run) -> Plan | None:
    """Return the run's current plan (its newest version), if any."""
    return Plan.objects.filter(run=run).order_by("-version").first()


def plan_steps_in_order() -> QuerySet[PlanStep]:
    """Return plan steps in written order, each with the steps it depends on loaded, also in written order.

    The one order of a plan's steps wherever a plan is shown: the engine's plan events, the runs API
    and the admin. Filter it by plan, or use it as a ``Prefetch`` queryset; two queries either way.
    """
    # Of a dependency only what is shown of it: its id and key.
    dependencies = PlanStep.objects.order_by("position").only("id", "key", "position")
    return PlanStep.objects.order_by("position").prefetch_related(Prefetch("depends_on", queryset=dependencies))


def plan_graph(*, plan: Plan) -> tuple[dict[str, PlanStep], dict[str, list[str]]]:
    """Return a plan's steps by key, in order, and each step's dependencies by key."""
    steps = {step.key: step for step in plan_steps_in_order().filter(plan=plan)}
    depends_on = {key: [dependency.key for dependency in step.depends_on.all()] for key, step in steps.items()}
    return steps, depends_on


def agent_conversation(*, agent: Agent) -> list[AgentMessage]:
    """Return an agent's stored LLM conversation, in order."""
    return list(AgentMessage.objects.filter(agent=agent).order_by("id"))


def run_has_event(*, run_id: uuid.UUID | str, type: str) -> bool:
    """Return whether the run has stored an event of this type."""
    return RunEvent.objects.filter(run_id=run_id, type=type).exists()


def runs_lost(*, limit: int) -> list[Run]:
    """Return running runs whose lease expired, oldest first."""
    return list(
        Run.objects.filter(status=Run.Status.RUNNING, lease_until__lt=timezone.now()).order_by("lease_until")[:limit]
    )


def runs_waiting_in_queue(*, limit: int, created_before: datetime | None = None) -> list[Run]:
    """Return queued runs due for another hand-over: their queue lease passed, or they are older than a time."""
    due = Q(lease_until__lt=timezone.now()) | Q(lease_until__isnull=True)
    if created_before is not None:
        due |= Q(created_at__lt=created_before)
    queued = Run.objects.filter(due, status=Run.Status.QUEUED, on_hold=False)
    return list(queued.order_by("created_at")[:limit])


def sessions_with_stalled_queue(*, limit: int) -> list[uuid.UUID]:
    """Return sessions with runs on hold but no other active run (their promotion was lost)."""
    active = Run.objects.filter(session_id=OuterRef("session_id"), status__in=Run.ACTIVE_STATUSES, on_hold=False)
    held = Run.objects.filter(status=Run.Status.QUEUED, on_hold=True).filter(~Exists(active))
    return list(held.order_by().values_list("session_id", flat=True).distinct()[:limit])


def session_runs_active(*, session_id: uuid.UUID | str) -> list[Run]:
    """Return the session's active runs, the one owners may claim first, then those on hold in order."""
    return list(
        Run.objects.select_related("session")
        .filter(session_id=session_id, status__in=Run.ACTIVE_STATUSES)
        .order_by("on_hold", "created_at", "id")
    )


def runs_of_owners(*, owners: list[str]) -> list[Run]:
    """Return the running runs these owners hold."""
    return list(Run.objects.filter(status=Run.Status.RUNNING, owner__in=owners))


def running_owners() -> list[str]:
    """Return the distinct owners of running runs."""
    return list(Run.objects.filter(status=Run.Status.RUNNING).values_list("owner", flat=True).distinct())


def workers_live(*, within_seconds: float) -> list[WorkerProcess]:
    """Return the worker processes that gave a sign of life in the last ``within_seconds``."""
    return list(WorkerProcess.objects.filter(beat_at__gte=timezone.now() - timedelta(seconds=within_seconds)))


def session_run(*, session: ChatSession, run_id: str) -> Run | None:
    """Return one run of the session, or None (also for a malformed id)."""
    try:
        return Run.objects.filter(session=session, pk=run_id).first()
    except (ValidationError, ValueError):
        return None


def session_active_run(*, session: ChatSession) -> Run | None:
    """Return the session's earliest active run (queued, running or waiting), if any."""
    return Run.objects.filter(session=session, status__in=Run.ACTIVE_STATUSES).order_by("created_at", "id").first()


def run_history(*, run: Run, limit: int) -> list[Message]:
    """Return the last messages of the run's session that came before it, oldest first.

    That is every message of the session except the run's own and those of
    the runs after it: a run that waited in the session's queue (multitask
    ``enqueue``) sees the answers of the runs before it, stored after its
    message was. A run its claim read as the session's only message
    (``session_has_history`` False) has none: no query.
    """
    if getattr(run, "session_has_history", True) is False:
        return []
    later = Run.objects.filter(session_id=run.session_id).filter(
        Q(created_at__gt=run.created_at) | Q(created_at=run.created_at, id__gt=run.id)
    )
    messages = (
        Message.objects.filter(session_id=run.session_id)
        .exclude(pk=run.user_message_id)
        .exclude(pk__in=later.values("user_message_id"))
        .exclude(pk__in=later.filter(assistant_message__isnull=False).values("assistant_message_id"))
    )
    recent = list(messages.order_by("-created_at", "-id")[:limit])
    recent.reverse()
    return recent


def session_next_run(*, session_id: uuid.UUID | str, after: Run | datetime) -> Run | None:
    """Return the session's first run after a run (by creation, then id), or created after a time."""
    runs = Run.objects.filter(session_id=session_id)
    if isinstance(after, Run):
        runs = runs.filter(Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, id__gt=after.id))
    else:
        runs = runs.filter(created_at__gte=after)
    return runs.order_by("created_at", "id").first()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Return the start of a UTC day and of the next one."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def user_cost_on_day(*, user_id: int, day: date) -> Decimal:
    """Return the dollars of the user's LLM calls stored on this UTC day."""
    start, end = day_bounds(day)
    total = AgentMessage.objects.filter(
        run__user_id=user_id, role=AgentMessage.Role.ASSISTANT, created_at__gte=start, created_at__lt=end
    ).aggregate(total=Sum("cost_usd"))["total"]
    return total or Decimal(0)


def run_spent(*, run_id: uuid.UUID | str) -> tuple[Decimal, int]:
    """Return the dollars and tokens a run's stored calls used; zeros for a run that is gone."""
    row = Run.objects.filter(pk=run_id).values_list("cost_usd", "total_tokens").first()
    return (row[0], row[1]) if row else (Decimal(0), 0)


def run_trace_summary(*, run_id: uuid.UUID | str) -> dict | None:
    """Return what a run's span records when it ends: status, route, usage, cost, error code."""
    row = (
        Run.objects.filter(pk=run_id)
        .values("status", "route", "prompt_tokens", "completion_tokens", "llm_calls", "cost_usd", "error_code")
        .first()
    )
    if row is None:
        return None
    return {
        "agents.run.status": row["status"],
        "agents.run.route": row["route"],
        "gen_ai.usage.input_tokens": row["prompt_tokens"],
        "gen_ai.usage.output_tokens": row["completion_tokens"],
        "agents.llm_calls": row["llm_calls"],
        "agents.cost_usd": float(row["cost_usd"]),
        "agents.run.error_code": row["error_code"] or None,
    }


def run_event_is_done(*, run_id: uuid.UUID | str, seq: int) -> bool:
    """Return whether the run's event ``seq`` is its ``done`` (a client that has it has the whole run)."""
    return RunEvent.objects.filter(run_id=run_id, seq=seq, type=DONE).exists()


def run_approval_request_seq(*, run_id: uuid.UUID | str, approval_ids: set[str]) -> int:
    """Return the seq of the last ``approval_required`` event of the run that asked for one of these; 0 if none."""
    rows = RunEvent.objects.filter(run_id=run_id, type=APPROVAL_REQUIRED).values_list("seq", "data")
    return max((seq for seq, data in rows if data.get("approval", {}).get("id") in approval_ids), default=0)


def run_get_detailed(*, user: AbstractBaseUser, run_id: uuid.UUID | str) -> Run:
    """Return the user's run with its plans, their steps (in order, with dependencies) and its executions.

    Five queries whatever the plan's size: run, plan, steps, their dependencies, executions.
    Raises RunNotFound as ``run_get`` does.
    """
    run = run_get(user=user, run_id=run_id)
    prefetch_related_objects(
        [run],
        "plans",
        Prefetch("plans__steps", queryset=plan_steps_in_order()),
        Prefetch("executions", queryset=Execution.objects.order_by("started_at")),
    )
    return run
