"""Answering approvals from another protocol's request (AG-UI ``resume[]``, an AI SDK approval response).

Both protocols answer an interrupt with their next request on the same thread
or chat: the decisions go through our approvals service (the same checks,
409s and resumption as ``POST /api/agent/runs/<id>/approvals/<id>``), then the
run's stream goes on after the interrupt the client saw.
"""

import contextlib
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from agents.exceptions import ApprovalDecided
from agents.models import Run
from agents.runs import selectors
from agents.runtime import approvals as runtime_approvals
from agents_platform.errors import InvalidInput
from sessions import selectors as session_selectors


def answer_approvals(
    *, user: AbstractBaseUser, client_id: str, decisions: list[tuple[str, dict[str, Any]]], field: str
) -> tuple[Run, int]:
    """Decide the approvals of the thread's (chat's) waiting run; return the run and the seq to stream after.

    ``decisions`` are (approval id, our decision body). One already decided (by
    another client, or expired) is left as it is. Raises InvalidInput when the
    thread has no run waiting, NotFound for an approval that is not its.
    """
    session_id, _ = session_selectors.session_for_client_id(user=user, client_id=client_id)
    session = session_selectors.session_get(user=user, session_id=session_id) if session_id else None
    run = selectors.session_active_run(session=session) if session is not None else None
    if run is None:
        problem = "Nothing waits for an answer on this thread."
        raise InvalidInput(f"Invalid field '{field}': {problem}", code=f"invalid_{field}", fields={field: [problem]})
    for approval_id, body in decisions:
        with contextlib.suppress(ApprovalDecided):  # decided elsewhere, or expired: the run goes on either way
            runtime_approvals.approval_decide(user=user, run_id=run.pk, approval_id=approval_id, body=body)
    answered = {approval_id for approval_id, _ in decisions}
    return run, selectors.run_approval_request_seq(run_id=run.pk, approval_ids=answered)
