"""Writes of the engine's models, shared by views, admin, the engine and commands.

Keyword-only and typed (STYLE.md). Check, then do: each service validates and
locks in one step, then changes state; events go out through ``emit()``.
"""

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from agents import events
from agents.exceptions import ActiveRunExists, IdempotencyMismatch, InvalidInput
from agents.models import Agent, Execution, Memory, Plan, PlanStep, PlanStepDependency, Run
from agents.runs.plans import PlanSpec
from agents.storable import unstorable_reason
from sessions import selectors as session_selectors
from sessions import services as session_services
from sessions.models import ChatSession, Message

IDEMPOTENCY_WINDOW = timedelta(hours=24)
CONTEXT_TYPE_MAX_CHARS = 64
ENTITY_ID_MAX_CHARS = 255
IDEMPOTENCY_KEY_MAX_CHARS = 255
MEMORY_MAX_CHARS = 2000


def request_fingerprint(payload: dict[str, Any]) -> str:
    """Return the SHA-256 of a request body's meaningful fields, for Idempotency-Key checks."""
    meaningful = {key: payload.get(key) for key in ("message", "session_id", "context_type", "entity_id")}
    return hashlib.sha256(json.dumps(meaningful, sort_keys=True, default=str).encode()).hexdigest()


def run_validate_request(payload: Any) -> dict[str, Any]:
    """Validate the body of ``POST /api/agent/stream`` and return its clean fields.

    Raises InvalidInput with ``fields`` naming each bad field.
    """
    if not isinstance(payload, dict):
        raise InvalidInput("The body must be a JSON object.", code="invalid_body")
    errors: dict[str, list[str]] = {}

    message = payload.get("message")
    if message is None:
        errors["message"] = ["This field is required."]
    elif not isinstance(message, str):
        errors["message"] = ["Must be a string."]
    else:
        message = message.strip()
        if not message:
            errors["message"] = ["Must not be empty."]
        elif len(message) > settings.AGENT_MAX_MESSAGE_CHARS:
            errors["message"] = [f"Must be at most {settings.AGENT_MAX_MESSAGE_CHARS} characters."]
        elif problem := unstorable_reason(message):
            errors["message"] = [problem]

    session_id = payload.get("session_id")
    if session_id is not None:
        try:
            session_id = uuid.UUID(str(session_id)) if isinstance(session_id, str) else None
        except ValueError:
            session_id = None
        if session_id is None:
            errors["session_id"] = ["Must be a UUID or null."]

    clean: dict[str, Any] = {"message": message, "session_id": session_id}
    for name, limit in (("context_type", CONTEXT_TYPE_MAX_CHARS), ("entity_id", ENTITY_ID_MAX_CHARS)):
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            errors[name] = ["Must be a string or null."]
        elif isinstance(value, str) and len(value) > limit:
            errors[name] = [f"Must be at most {limit} characters."]
        elif isinstance(value, str) and (problem := unstorable_reason(value)):
            errors[name] = [problem]
        else:
            clean[name] = value.strip() or None if isinstance(value, str) else None

    if errors:
        first = next(iter(errors))
        raise InvalidInput(f"Invalid field '{first}': {errors[first][0]}", code=f"invalid_{first}", fields=errors)
    return clean


def _idempotent_run(*, user: AbstractBaseUser, key: str, fingerprint: str) -> Run | None:
    """Return the run an Idempotency-Key already started, releasing keys older than the window."""
    existing = Run.objects.filter(user=user, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.created_at < timezone.now() - IDEMPOTENCY_WINDOW:
        Run.objects.filter(pk=existing.pk).update(idempotency_key=None)
        return None
    if existing.request_hash != fingerprint:
        raise IdempotencyMismatch()
    return existing


def run_start(
    *,
    user: AbstractBaseUser,
    message: str,
    session_id: uuid.UUID | None = None,
    context_type: str | None = None,
    entity_id: str | None = None,
    idempotency_key: str | None = None,
    reserved_tokens: int = 0,
) -> tuple[Run, bool]:
    """Store the user's message and a queued run for it, in one transaction.

    Returns ``(run, created)``; ``created`` is False when the Idempotency-Key
    joined an earlier run. Raises NotFound for a session that is not the
    user's, ActiveRunExists when the session is busy, IdempotencyMismatch
    when the key was used with another body.
    """
    if idempotency_key is not None and (
        not idempotency_key.strip() or len(idempotency_key) > IDEMPOTENCY_KEY_MAX_CHARS
    ):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 255 characters.",
            code="invalid_idempotency_key",
            fields={"Idempotency-Key": ["Must be 1 to 255 characters."]},
        )
    fingerprint = request_fingerprint(
        {"message": message, "session_id": session_id, "context_type": context_type, "entity_id": entity_id}
    )
    try:
        with transaction.atomic():
            if idempotency_key:
                existing = _idempotent_run(user=user, key=idempotency_key, fingerprint=fingerprint)
                if existing is not None:
                    return existing, False
            if session_id is not None:
                session = session_selectors.session_get(user=user, session_id=session_id)
                # Lock the session row so two requests cannot both find it idle.
                ChatSession.objects.select_for_update().filter(pk=session.pk).first()
                active = Run.objects.filter(session=session, status__in=Run.ACTIVE_STATUSES).first()
                if active is not None:
                    raise ActiveRunExists(extra={"run_id": str(active.pk)})
            else:
                session = session_services.session_create(user=user, context_type=context_type, entity_id=entity_id)
            user_message = session_services.message_create(session=session, role=Message.Role.USER, content=message)
            run = Run.objects.create(
                session=session,
                user=user,
                user_message=user_message,
                idempotency_key=idempotency_key or None,
                request_hash=fingerprint if idempotency_key else "",
                reserved_tokens=reserved_tokens,
            )
    except IntegrityError:
        # Lost a race: another request took the key or the session at the same time.
        if idempotency_key:
            existing = _idempotent_run(user=user, key=idempotency_key, fingerprint=fingerprint)
            if existing is not None:
                return existing, False
        if session_id is not None:
            active = Run.objects.filter(session_id=session_id, status__in=Run.ACTIVE_STATUSES).first()
            if active is not None:
                raise ActiveRunExists(extra={"run_id": str(active.pk)}) from None
        raise
    return run, True


def run_mark_running(*, run: Run, worker: str = "") -> bool:
    """Move a queued run to running; False if it was no longer queued (cancelled, swept)."""
    now = timezone.now()
    updated = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker
    )
    if updated:
        run.status, run.started_at, run.heartbeat_at, run.worker = Run.Status.RUNNING, now, now, worker
    return bool(updated)


def run_heartbeat(*, run_id: uuid.UUID | str) -> None:
    """Record that the worker running the run is alive."""
    Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).update(heartbeat_at=timezone.now())


def run_add_usage(*, run: Run, prompt_tokens: int, completion_tokens: int, llm_calls: int = 1) -> None:
    """Add one LLM call's usage to the run, atomically (executors add in parallel)."""
    Run.objects.filter(pk=run.pk).update(
        prompt_tokens=F("prompt_tokens") + prompt_tokens,
        completion_tokens=F("completion_tokens") + completion_tokens,
        total_tokens=F("total_tokens") + prompt_tokens + completion_tokens,
        llm_calls=F("llm_calls") + llm_calls,
    )


def run_finish(
    *,
    run: Run,
    status: str,
    assistant_message: Message | None = None,
    error_code: str = "",
    error_message: str = "",
) -> bool:
    """Move an active run to a final status; False if it had already finished (the first finisher wins)."""
    if status not in {Run.Status.COMPLETED, Run.Status.FAILED, Run.Status.CANCELLED, Run.Status.INTERRUPTED}:
        raise ValueError(f"{status!r} is not a final run status")
    now = timezone.now()
    updated = Run.objects.filter(pk=run.pk, status__in=Run.ACTIVE_STATUSES).update(
        status=status,
        finished_at=now,
        assistant_message=assistant_message,
        error_code=error_code,
        error_message=error_message,
    )
    if updated:
        run.refresh_from_db()
    return bool(updated)


def run_end(
    *,
    run: Run,
    status: str,
    assistant_message: Message | None = None,
    error_code: str = "",
    error_message: str = "",
) -> bool:
    """Finish an active run, then emit its last events: ``error`` (when there is one) and ``done``.

    Only the first finisher (the engine, or a sweeper that found it dead)
    speaks: when the run had already finished this returns False and emits
    nothing, so ``done`` is always last and sent once.
    """
    if not run_finish(
        run=run, status=status, assistant_message=assistant_message, error_code=error_code, error_message=error_message
    ):
        return False
    if error_code:
        events.emit(run, events.ERROR, closing=True, code=error_code, message=error_message, fatal=True)
    events.emit(
        run,
        events.DONE,
        closing=True,
        status=status,
        message_id=str(assistant_message.pk) if assistant_message else None,
        usage={
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.completion_tokens,
            "total_tokens": run.total_tokens,
            "llm_calls": run.llm_calls,
        },
        duration_ms=run.duration_ms,
    )
    return True


def run_request_cancel(*, run: Run) -> Run:
    """Ask a run to stop; idempotent. Agents see the flag at their next check."""
    Run.objects.filter(pk=run.pk, status__in=Run.ACTIVE_STATUSES).update(cancel_requested=True)
    run.refresh_from_db()
    return run


def run_is_cancel_requested(*, run_id: uuid.UUID | str) -> bool | None:
    """Return whether the run's cancel flag is set; None when the run is gone (deleted with its session)."""
    return Run.objects.filter(pk=run_id).values_list("cancel_requested", flat=True).first()


def agent_create(*, run: Run, role: str, model: str, parent: Agent | None = None) -> Agent:
    """Create a planner (read-write) or an executor (always read-only) for a run."""
    permission = Agent.Permission.READ_ONLY if role == Agent.Role.EXECUTOR else Agent.Permission.READ_WRITE
    return Agent.objects.create(run=run, role=role, model=model, permission=permission, parent=parent)


def memory_create(*, user: AbstractBaseUser, content: str) -> Memory:
    """Save a memory for the user."""
    content = content.strip()
    if not content:
        raise InvalidInput("A memory must not be empty.", code="invalid_memory", fields={"content": ["Required."]})
    if len(content) > MEMORY_MAX_CHARS:
        message = f"A memory must be at most {MEMORY_MAX_CHARS} characters."
        raise InvalidInput(message, code="invalid_memory", fields={"content": [message]})
    return Memory.objects.create(user=user, content=content)


def memory_delete(*, user: AbstractBaseUser, memory_id: uuid.UUID | str) -> bool:
    """Delete one of the user's memories; False when the user has no such memory."""
    try:
        deleted, _ = Memory.objects.filter(user=user, pk=memory_id).delete()
    except (ValidationError, ValueError, TypeError):
        return False
    return bool(deleted)


def plan_create(*, run: Run, agent: Agent, spec: PlanSpec) -> Plan:
    """Store a validated plan with its steps and dependency edges, all or nothing."""
    with transaction.atomic():
        plan = Plan.objects.create(run=run, agent=agent, objective=spec.objective)
        steps = {
            step.key: PlanStep.objects.create(
                plan=plan, key=step.key, position=position, title=step.title, instructions=step.instructions
            )
            for position, step in enumerate(spec.steps)
        }
        PlanStepDependency.objects.bulk_create(
            PlanStepDependency(step=steps[step.key], depends_on=steps[dep])
            for step in spec.steps
            for dep in step.depends_on
        )
    return plan


def step_start(*, step: PlanStep) -> None:
    """Mark a pending step running."""
    now = timezone.now()
    PlanStep.objects.filter(pk=step.pk).update(status=PlanStep.Status.RUNNING, started_at=now)
    step.status, step.started_at = PlanStep.Status.RUNNING, now


def step_finish(*, step: PlanStep, status: str, result: str = "", error: str = "") -> None:
    """Give a step its final status, result or error."""
    now = timezone.now()
    PlanStep.objects.filter(pk=step.pk).update(status=status, result=result, error=error, finished_at=now)
    step.status, step.result, step.error, step.finished_at = status, result, error, now


def execution_start(*, run: Run, step: PlanStep, agent: Agent, task: str) -> Execution:
    """Record that an executor took on a step."""
    return Execution.objects.create(run=run, step=step, agent=agent, task=task)


def execution_finish(
    *, execution: Execution, status: str, result: str = "", error: str = "", usage: dict[str, int]
) -> None:
    """Give an execution its final status and usage."""
    now = timezone.now()
    Execution.objects.filter(pk=execution.pk).update(
        status=status,
        result=result,
        error=error,
        prompt_tokens=usage["prompt_tokens"],
        completion_tokens=usage["completion_tokens"],
        total_tokens=usage["total_tokens"],
        llm_calls=usage["llm_calls"],
        finished_at=now,
    )
    execution.status, execution.result, execution.error, execution.finished_at = status, result, error, now
