"""Pause and resume: the planner's write tool calls, and its plan, wait for the user's decision.

With ``AGENT_APPROVAL=write`` a write tool call of the planner is not run: it
becomes an approval (``approval_required``) and, once every call of the
reply is answered or waits, the run is let go (``runs.approvals.run_wait``:
status ``waiting``, nothing held) and the owner stops with RunWaiting. The
decision queues the run again; the next owner reads the planner's stored
conversation back (``planner.RunExecution.plan_or_answer``), finds the call
unanswered, and answers it here from the decision:

- approved: the call runs with the approved (maybe edited) arguments in one
  transaction with its ``tool_call`` / ``tool_result`` events, its stored
  result and the approval marked executed, so a worker lost half-way leaves
  nothing and the next attempt runs it; once committed it never runs again.
  A tool that acts outside the database (an MCP server's) cannot commit with
  the mark, and no transaction is held while it waits on the network: it is
  marked executed (outcome unknown) first, then called, then its outcome is
  stored, so it runs at most once; an attempt lost while it ran leaves the
  next one to answer ``outcome_unknown`` instead of calling it again;
- rejected or expired: the model gets ``ok: false``, ``error.code: rejected``.

With ``review_plan`` the stored plan waits the same way, as one approval of
kind ``plan`` (``review_plan``).
"""

import json
from typing import Any

from django.conf import settings
from django.db import transaction

from agents import events
from agents.engine.cancel import CancelWatch
from agents.engine.conversation import Conversation, parse_arguments
from agents.exceptions import RunCancelled, RunWaiting
from agents.llm.gateway import ToolCall
from agents.models import Approval, Plan, Run
from agents.runs import approvals
from agents.runs.connections import give_back_connection
from agents.tools import ToolOutcome, registry

REJECTED = "rejected"
# What an approved call outside the database is marked with before it runs (and answers if its attempt is lost).
OUTCOME_UNKNOWN = {
    "ok": False,
    "error": {
        "code": "outcome_unknown",
        "message": "The run was interrupted while this approved call ran; it was not run again, "
        "so whether it took effect is not known.",
    },
}


def needs_approval(conversation: Conversation, call: ToolCall) -> bool:
    """Return whether this call must wait for the user: a valid call of a write tool by a read-write agent."""
    if settings.AGENT_APPROVAL != "write" or conversation.agent.permission != registry.READ_WRITE:
        return False
    tool = registry.get(call.name)
    if tool is None or tool.kind != registry.WRITE:
        return False
    try:
        tool.parse_arguments(call.arguments)
    except registry.InvalidArguments:
        return False  # refused as the model's bad call is, without asking anyone
    return True


def announce_decided(run: Run) -> None:
    """Emit the results of approvals decided while this owner held the run (nobody else numbers its events)."""
    approvals.approvals_announce(run=run, approvals=approvals.approvals_unannounced(run=run))


def wait_for_decisions(run: Run) -> None:
    """Let the run go while approvals are pending (raises RunWaiting); return when all were decided meanwhile."""
    while True:
        announce_decided(run)
        events.flush(run)  # what the owner holds in memory (rows, counters) is stored before it lets go
        owner = run.owner
        state = approvals.run_wait(run=run)
        if state == approvals.WAITING:
            events.forget(run, owner=owner)  # let go: its next owner numbers its events from what is stored
            raise RunWaiting()
        if state == approvals.CANCELLED:
            raise RunCancelled()
        if state == approvals.DECIDED:
            return


def run_tool_calls(conversation: Conversation, calls: list[ToolCall]) -> None:
    """Run a reply's tool calls; those that need approval run after it (or are answered rejected)."""
    run, cancel = conversation.run, conversation.cancel
    left = list(calls)
    while left:
        if any(needs_approval(conversation, call) for call in left):
            announce_decided(run)  # what a decision while an earlier attempt held the run left unannounced
        waiting = []
        for call in left:
            if not needs_approval(conversation, call):
                conversation.run_tool(call)
                continue
            approval = approvals.approval_for_call(run=run, call_id=call.id)
            if approval is None:
                cancel.check()
                approvals.approval_request(
                    run=run,
                    agent=conversation.agent,
                    kind=Approval.Kind.TOOL,
                    call_id=call.id,
                    tool=call.name,
                    arguments=parse_arguments(call.arguments),
                )
                waiting.append(call)
            elif approval.status == Approval.Status.PENDING:
                waiting.append(call)
            elif approval.status == Approval.Status.APPROVED:
                run_approved(conversation, call, approval)
            else:
                answer_rejected(conversation, call, approval)
        if waiting:
            wait_for_decisions(run)
        left = waiting


def run_approved(conversation: Conversation, call: ToolCall, approval: Approval) -> None:
    """Run an approved call exactly once: the tool's writes and the executed mark commit in one transaction.

    ``tool_call`` is emitted (and stored) before, ``tool_result`` after: an
    attempt lost while the tool ran left neither its writes nor the mark, and
    the next one runs it; once the mark is stored the call never runs again
    and its stored outcome is answered. A tool outside the database (an MCP
    tool) is marked first and runs at most once (``_run_outside_the_database``).
    """
    conversation.cancel.check()
    arguments = approval.decided_arguments
    approved = ToolCall(
        id=call.id, name=call.name, arguments=call.arguments if arguments is None else json.dumps(arguments)
    )
    outcome: ToolOutcome | None = None
    tool = registry.get(call.name)
    if approval.executed_at is None and tool is not None and not tool.transactional:
        conversation.announce_call(approved)
        outcome, approval = _run_outside_the_database(conversation, approved, approval)
    elif approval.executed_at is None:
        conversation.announce_call(approved)
        with transaction.atomic():
            locked = approvals.approval_lock(approval=approval)
            if locked.executed_at is None:
                outcome = conversation.dispatch_call(approved)
                approvals.approval_mark_executed(approval=locked, result=outcome.as_dict())
            approval = locked
    if outcome is None:
        # Ran and stored by an earlier attempt: its stored outcome is the answer, never a second run.
        stored = approval.result or {}
        outcome = ToolOutcome(ok=bool(stored.get("ok")), **_outcome_fields(stored))
    conversation.answer_call(approved, outcome)


def _run_outside_the_database(
    conversation: Conversation, call: ToolCall, approval: Approval
) -> tuple[ToolOutcome | None, Approval]:
    """Run an approved call of a tool that acts outside the database at most once, holding no transaction."""
    with transaction.atomic():
        locked = approvals.approval_lock(approval=approval)
        if locked.executed_at is not None:
            return None, locked
        approvals.approval_mark_executed(approval=locked, result=OUTCOME_UNKNOWN)
    give_back_connection()  # the tool waits on the network
    outcome = conversation.dispatch_call(call)
    approvals.approval_mark_executed(approval=locked, result=outcome.as_dict())
    return outcome, locked


def _outcome_fields(stored: dict[str, Any]) -> dict[str, Any]:
    return {"result": stored.get("result")} if stored.get("ok") else {"error": stored.get("error")}


def answer_rejected(conversation: Conversation, call: ToolCall, approval: Approval) -> None:
    """Tell the model the user rejected the call (an expired approval counts as rejected)."""
    if approval.status == Approval.Status.EXPIRED:
        message = "No decision was made in time, so the call was not made."
    else:
        message = "The user rejected this call" + (f": {approval.reason}" if approval.reason else ".")
    conversation.answer_call(call, ToolOutcome(ok=False, error={"code": REJECTED, "message": message}))


def plan_call_id(plan: Plan) -> str:
    """Return the key of a plan's review: one per plan."""
    return f"plan:{plan.pk}"


def review_plan(*, run: Run, planner_agent, cancel: CancelWatch, plan: Plan, payload: dict[str, Any]) -> Approval:
    """Return the user's decision on the plan, asking for it first (the run waits: RunWaiting)."""
    call_id = plan_call_id(plan)
    while True:
        approval = approvals.approval_for_call(run=run, call_id=call_id)
        if approval is not None and approval.status != Approval.Status.PENDING:
            return approval
        if approval is None:
            cancel.check()
            approvals.approval_request(
                run=run, agent=planner_agent, kind=Approval.Kind.PLAN, call_id=call_id, plan=payload
            )
        wait_for_decisions(run)
