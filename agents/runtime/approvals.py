"""Deciding approvals from outside the run: a user's decision, or its expiry, hands a waiting run on.

A waiting run has no owner (docs/events.md, ``approval_required``). When
the last approval it waits for is decided, ``agents.runs.approvals`` queues it
again and this module submits it, so whichever worker is free resumes it;
the sweeper expires approvals past ``AGENT_APPROVAL_TIMEOUT`` the same way.
"""

import json
import logging
import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from agents.exceptions import ApprovalDecided, InvalidInput
from agents.models import Approval
from agents.runs import approvals, selectors
from agents.runtime import runners
from agents.tools import registry

logger = logging.getLogger(__name__)


def approval_decide(
    *, user: AbstractBaseUser, run_id: uuid.UUID | str, approval_id: uuid.UUID | str, body: Any
) -> Approval:
    """Decide one of the user's approvals from a request body; resume its run when nothing else is pending.

    Raises RunNotFound / ApprovalNotFound (another user's ids too), InvalidInput, ApprovalDecided.
    """
    run = selectors.run_get(user=user, run_id=run_id)
    approval = approvals.approval_get(run=run, approval_id=approval_id)
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.", code="invalid_body")
    arguments = body.get("arguments")
    if approval.kind == Approval.Kind.TOOL and body.get("decision") == "approve" and arguments is not None:
        validate_tool_arguments(approval.tool, arguments)
    try:
        decided, resume = approvals.approval_decide(
            user=user, approval=approval, decision=body.get("decision"), arguments=arguments, reason=body.get("reason")
        )
    except ApprovalDecided as refused:
        if getattr(refused, "resume_run", False):  # it had expired: the run goes on without it
            runners.submit(run.pk)
        raise
    if resume:
        runners.submit(run.pk)
    return decided


def validate_tool_arguments(tool_name: str, arguments: Any) -> None:
    """Check edited arguments as the model's are checked; InvalidInput names the problem."""
    if not isinstance(arguments, dict):
        raise InvalidInput(
            "arguments must be a JSON object.", code="invalid_arguments", fields={"arguments": ["Must be an object."]}
        )
    tool = registry.get(tool_name)
    if tool is None:
        raise InvalidInput(
            f"There is no tool named '{tool_name}' any more.",
            code="invalid_arguments",
            fields={"arguments": ["Unknown tool."]},
        )
    try:
        tool.parse_arguments(json.dumps(arguments))
    except (registry.InvalidArguments, TypeError, ValueError) as exc:
        raise InvalidInput(str(exc), code="invalid_arguments", fields={"arguments": [str(exc)]}) from None


def approvals_expire_due() -> list[str]:
    """Expire the approvals past their time (they count as rejected); submit the runs that may go on."""
    resumed = []
    for approval in approvals.approvals_due(now=timezone.now()):
        try:
            if approvals.approval_expire(approval=approval):
                runners.submit(approval.run_id)
                resumed.append(str(approval.run_id))
        except Exception:
            logger.exception("Approval %s could not be expired", approval.pk)
    return resumed
