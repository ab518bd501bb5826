"""Approvals: the decisions a run waits for (a write tool call of the planner, or its plan), stored and decided.

The only writer of Approval rows. A run that asks for approvals is released
with ``run_wait`` (status ``waiting``, no owner, no lease: nothing is held);
the decision that leaves no approval of the run pending queues it again
(``resume_reason`` ``approval``) and the runtime hands it to whichever owner
is free. Every change locks the run row first, so a decision, an expiry, a
cancel and the owner letting the run go are applied one after the other,
never interleaved: a decision that comes before the owner let go is seen by
the owner (``run_wait`` answers ``decided``), one after it resumes the run.

Events: ``approval_required`` when an approval is stored, ``approval_result``
when it is decided (also expired, or closed by a cancel), both with the
payloads of docs/events.md.
"""

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone

from agents import events
from agents.events import catalogue
from agents.exceptions import ApprovalDecided, ApprovalNotFound, InvalidInput, RunGone
from agents.models import Agent, Approval, Plan, PlanStep, PlanStepDependency, Run
from agents.runs.plans import PlanInvalid, PlanSpec, parse_plan

REASON_MAX_CHARS = 2000
EXPIRED_REASON = "No decision was made within AGENT_APPROVAL_TIMEOUT."
CANCELLED_REASON = "The run was cancelled."

# What run_wait found: the run now waits; every approval was decided meanwhile; the user cancelled;
# a decision came while the owner held the run and the owner must announce it first (then wait again).
WAITING, DECIDED, CANCELLED, ANNOUNCE = "waiting", "decided", "cancelled", "announce"


def approval_required_event(approval: Approval) -> catalogue.ApprovalRequiredEvent:
    """Return the ``approval_required`` event of an approval."""
    return catalogue.ApprovalRequiredEvent(
        approval=catalogue.ApprovalRequest(
            id=str(approval.pk),
            kind=approval.kind,
            tool=approval.tool or None,
            arguments=approval.arguments,
            plan=approval.plan,
            agent_id=str(approval.agent_id),
            expires_at=approval.expires_at,
        )
    )


def approval_result_event(approval: Approval) -> catalogue.ApprovalResultEvent:
    """Return the ``approval_result`` event of a decided approval."""
    return catalogue.ApprovalResultEvent(
        approval=catalogue.ApprovalDecision(
            id=str(approval.pk),
            decision=approval.decision,
            arguments=effective_arguments(approval),
            reason=approval.reason,
            decided_by=approval.decided_by.get_username() if approval.decided_by_id else None,
        )
    )


def effective_arguments(approval: Approval) -> Any:
    """Return what runs once approved: the edited arguments (or plan), else the proposed ones (none for a plan)."""
    if approval.decided_arguments is not None:
        return approval.decided_arguments
    return approval.arguments if approval.kind == Approval.Kind.TOOL else None


# --- Selectors -----------------------------------------------------------------


def approval_list(*, run: Run) -> list[Approval]:
    """Return the run's approvals, pending first, then in the order they were asked."""
    pending_first = Case(
        When(status=Approval.Status.PENDING, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return list(
        Approval.objects.filter(run=run).select_related("decided_by").order_by(pending_first, "created_at", "id")
    )


def approval_get(*, run: Run, approval_id: uuid.UUID | str) -> Approval:
    """Return one approval of the run, or raise ApprovalNotFound (also for a malformed id)."""
    try:
        return Approval.objects.select_related("decided_by").get(run=run, pk=approval_id)
    except (Approval.DoesNotExist, ValidationError, ValueError, TypeError):
        raise ApprovalNotFound() from None


def approval_for_call(*, run: Run, call_id: str) -> Approval | None:
    """Return the approval of one call of the run (its id is the key), if one was asked."""
    return Approval.objects.select_related("decided_by").filter(run=run, call_id=call_id).first()


def approvals_due(*, now: datetime, limit: int = 100) -> list[Approval]:
    """Return pending approvals past their expiry."""
    return list(
        Approval.objects.filter(status=Approval.Status.PENDING, expires_at__lt=now).order_by("expires_at")[:limit]
    )


# --- Services ------------------------------------------------------------------


def approval_request(
    *, run: Run, agent: Agent, kind: str, call_id: str, tool: str = "", arguments: Any = None, plan: Any = None
) -> Approval:
    """Store an approval for a call (once: the call id is the key) and emit ``approval_required``.

    The row is stored with its event, in the batch that carries it (the run row locked first, by the fence).
    """
    existing = approval_for_call(run=run, call_id=call_id)
    if existing is not None:
        return existing
    approval = Approval(
        run=run,
        agent=agent,
        kind=kind,
        call_id=call_id,
        tool=tool,
        arguments=arguments,
        plan=plan,
        expires_at=timezone.now() + timedelta(seconds=settings.AGENT_APPROVAL_TIMEOUT),
    )
    events.defer(run, approval)
    events.emit(run, approval_required_event(approval))
    return approval


def approvals_unannounced(*, run: Run) -> list[Approval]:
    """Return the run's decided approvals whose ``approval_result`` nobody emitted yet (decided while it was held)."""
    return list(
        Approval.objects.select_related("decided_by")
        .filter(run=run, announced=False)
        .exclude(status=Approval.Status.PENDING)
        .order_by("decided_at", "id")
    )


def approvals_announce(*, run: Run, approvals: list[Approval]) -> None:
    """Emit, as the run's owner, the results of approvals decided while it held the run."""
    if approvals:
        ids = [approval.pk for approval in approvals]
        events.emit(
            run,
            *(approval_result_event(approval) for approval in approvals),
            writes=lambda: Approval.objects.filter(pk__in=ids).update(announced=True),
        )


def _lock_run(run_id: uuid.UUID | str) -> Run | None:
    return Run.objects.select_for_update().filter(pk=run_id).first()


def _has_pending(run_id: uuid.UUID | str) -> bool:
    return Approval.objects.filter(run_id=run_id, status=Approval.Status.PENDING).exists()


def _queue_for_resume(run_id: uuid.UUID | str) -> None:
    Run.objects.filter(pk=run_id, status=Run.Status.WAITING).update(
        status=Run.Status.QUEUED,
        resume_reason="approval",
        approval_resumes=F("approval_resumes") + 1,
        lease_until=timezone.now() + timedelta(seconds=settings.AGENT_LEASE_SECONDS),
    )


def run_wait(*, run: Run) -> str:
    """Let a run go while it waits for approvals: WAITING, or DECIDED / CANCELLED when the owner must go on.

    Fenced by the owner's lease: raises RunGone when it no longer holds the run.
    """
    with transaction.atomic():
        locked = _lock_run(run.pk)
        if locked is None or (locked.status, locked.owner, locked.attempt) != (
            Run.Status.RUNNING,
            run.owner,
            run.attempt,
        ):
            raise RunGone()
        if locked.cancel_requested:
            return CANCELLED
        # Decided while held: only the owner numbers the run's events, so it announces them before it lets go.
        if Approval.objects.filter(run_id=run.pk, announced=False).exclude(status=Approval.Status.PENDING).exists():
            return ANNOUNCE
        if not _has_pending(run.pk):
            return DECIDED
        Run.objects.filter(pk=run.pk).update(status=Run.Status.WAITING, owner="", lease_until=None)
    run.status, run.owner, run.lease_until = Run.Status.WAITING, "", None
    return WAITING


def _clean_decision(approval: Approval, *, decision: Any, arguments: Any, reason: Any) -> tuple[str, Any, str]:
    """Validate a decision's body against its approval; InvalidInput names the field."""
    if decision not in ("approve", "reject"):
        raise InvalidInput(
            "decision must be 'approve' or 'reject'.",
            code="invalid_decision",
            fields={"decision": ["Must be 'approve' or 'reject'."]},
        )
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or len(reason) > REASON_MAX_CHARS or "\x00" in reason:
        message = f"reason must be a string of at most {REASON_MAX_CHARS} characters, without NUL."
        raise InvalidInput(message, code="invalid_reason", fields={"reason": [message]})
    if arguments is None or decision == "reject":
        return decision, None, reason.strip()
    if not isinstance(arguments, dict):
        raise InvalidInput(
            "arguments must be a JSON object.", code="invalid_arguments", fields={"arguments": ["Must be an object."]}
        )
    if approval.kind == Approval.Kind.TOOL:
        # The tool's own checks ran in the runtime (agents.runtime.approvals): tools are a layer above this one.
        return decision, arguments, reason.strip()
    proposed = approval.plan or {}
    edited = {"objective": arguments.get("objective", proposed.get("objective", "")), "steps": arguments.get("steps")}
    try:
        spec = parse_plan(json.dumps(edited))
    except PlanInvalid as exc:
        raise InvalidInput(
            f"The plan is invalid: {exc}", code="invalid_plan", fields={"arguments": exc.problems}
        ) from None
    return decision, plan_spec_json(spec), reason.strip()


def plan_spec_json(spec: PlanSpec) -> dict[str, Any]:
    """Return a validated plan as create_plan takes it."""
    return {
        "objective": spec.objective,
        "steps": [
            {"id": step.key, "title": step.title, "instructions": step.instructions, "depends_on": step.depends_on}
            for step in spec.steps
        ],
    }


def _decide(approval: Approval, *, status: str, user: AbstractBaseUser | None, arguments: Any, reason: str) -> bool:
    """Record a decision (the run row is locked) and emit it; True when the run should now resume.

    When an owner holds the run (it has not let go yet), the owner numbers the
    run's events: it announces the decision itself (``run_wait`` answers ANNOUNCE).
    """
    approval.status, approval.decided_by, approval.decided_at = status, user, timezone.now()
    approval.decided_arguments, approval.reason = arguments, reason
    run_status, owner = Run.objects.filter(pk=approval.run_id).values_list("status", "owner").first()
    approval.announced = not owner
    approval.save(update_fields=["status", "decided_by", "decided_at", "decided_arguments", "reason", "announced"])
    if approval.kind == Approval.Kind.PLAN and status == Approval.Status.APPROVED and arguments is not None:
        _plan_replace_steps(run_id=approval.run_id, spec=parse_plan(json.dumps(arguments)))
    if approval.announced:
        events.emit(approval.run_id, approval_result_event(approval))
    if run_status == Run.Status.WAITING and not _has_pending(approval.run_id):
        _queue_for_resume(approval.run_id)
        return True
    return False


def _plan_replace_steps(*, run_id: uuid.UUID | str, spec: PlanSpec) -> None:
    """Put the user's edited steps in place of the proposed ones (none of which has started)."""
    plan = Plan.objects.filter(run_id=run_id).order_by("-version").first()
    Plan.objects.filter(pk=plan.pk).update(objective=spec.objective)
    plan.steps.all().delete()
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


def approval_decide(
    *,
    user: AbstractBaseUser,
    approval: Approval,
    decision: Any,
    arguments: Any = None,
    reason: Any = None,
) -> tuple[Approval, bool]:
    """Approve (maybe with edited arguments or steps) or reject an approval; return it and whether the run resumes.

    Raises InvalidInput for a bad body, ApprovalDecided when it was already
    decided or has expired (an approval found past its expiry is expired here).
    """
    decision, arguments, reason = _clean_decision(approval, decision=decision, arguments=arguments, reason=reason)
    with transaction.atomic():
        run = _lock_run(approval.run_id)
        locked = Approval.objects.select_for_update().filter(pk=approval.pk).first()
        if run is None or locked is None:
            raise ApprovalNotFound()
        if locked.status != Approval.Status.PENDING or run.status not in Run.ACTIVE_STATUSES:
            raise ApprovalDecided()
        expired = locked.expires_at <= timezone.now()
        if not expired:
            status = Approval.Status.APPROVED if decision == "approve" else Approval.Status.REJECTED
            resume = _decide(locked, status=status, user=user, arguments=arguments, reason=reason)
            return locked, resume
    refused = ApprovalDecided()
    refused.resume_run = approval_expire(approval=approval)  # the caller still hands the run on
    raise refused


def approval_expire(*, approval: Approval) -> bool:
    """Expire a pending approval past its time (counts as rejected); True when its run should now resume."""
    with transaction.atomic():
        run = _lock_run(approval.run_id)
        locked = Approval.objects.select_for_update().filter(pk=approval.pk).first()
        if run is None or locked is None or locked.status != Approval.Status.PENDING:
            return False
        if run.status not in Run.ACTIVE_STATUSES:
            Approval.objects.filter(pk=locked.pk).update(status=Approval.Status.EXPIRED, reason=EXPIRED_REASON)
            return False
        return _decide(locked, status=Approval.Status.EXPIRED, user=None, arguments=None, reason=EXPIRED_REASON)


def approvals_close(*, run: Run) -> None:
    """Reject what a cancelled run still waits for (the run row is locked by the caller), announcing each."""
    for approval in Approval.objects.select_for_update().filter(run=run, status=Approval.Status.PENDING):
        approval.status, approval.decided_at, approval.reason, approval.announced = (
            Approval.Status.REJECTED,
            timezone.now(),
            CANCELLED_REASON,
            True,
        )
        approval.save(update_fields=["status", "decided_at", "reason", "announced"])
        events.emit(run.pk, approval_result_event(approval))


def approval_mark_executed(*, approval: Approval, result: Any = None) -> None:
    """Record that the approved call ran (in the transaction that ran it) with its outcome."""
    now = timezone.now()
    Approval.objects.filter(pk=approval.pk).update(executed_at=now, result=result)
    approval.executed_at, approval.result = now, result


def approval_lock(*, approval: Approval) -> Approval:
    """Return the approval read again and locked (inside the caller's transaction).

    The run row is locked first, as every writer of approvals (and ``emit``) does: one order, no deadlock.
    """
    _lock_run(approval.run_id)
    return Approval.objects.select_for_update().get(pk=approval.pk)
