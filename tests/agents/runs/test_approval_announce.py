"""Who announces a decision: the run's owner while it holds the run, the decision itself once it let go.

Only a run's owner numbers its events (group commit). A decision that comes
while the owner still holds the run is stored unannounced; the owner emits
its ``approval_result`` before it lets go (or goes on). A decision on a run
that waits (nobody holds it) is announced by the request that makes it.
Either way the run's events stay numbered 1..n, in order, each once.
"""

import pytest

from agents.engine import approvals as engine_approvals
from agents.exceptions import RunWaiting
from agents.models import Approval, Run, RunEvent
from agents.runs import approvals, services
from tests.factories import make_run

pytestmark = pytest.mark.django_db(transaction=True)


def held_run_with_an_approval(user) -> tuple[Run, Approval]:
    run = services.run_claim(run_id=make_run(user).pk, owner="host:1:owner")
    planner = services.agent_create(run=run, role="planner", model="m")
    approval = approvals.approval_request(
        run=run, agent=planner, kind=Approval.Kind.TOOL, call_id="call-1", tool="remember", arguments={"content": "tea"}
    )
    return run, approval


def stored(run: Run) -> list[tuple[int, str]]:
    return list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", "type"))


def test_a_decision_while_the_owner_holds_the_run_is_announced_by_the_owner(user):
    run, approval = held_run_with_an_approval(user)
    decided, resume = approvals.approval_decide(user=user, approval=approval, decision="approve")
    assert not resume and not decided.announced
    assert stored(run) == [(1, "session"), (2, "approval_required")], "the request does not number the run's events"

    engine_approvals.wait_for_decisions(run)  # the owner announces it, then goes on (nothing left pending)

    assert stored(run) == [(1, "session"), (2, "approval_required"), (3, "approval_result")]
    result = RunEvent.objects.get(run=run, seq=3).data["approval"]
    assert (result["id"], result["decision"], result["decided_by"]) == (str(approval.pk), "approved", user.username)
    assert Approval.objects.get(pk=approval.pk).announced
    run.refresh_from_db()
    assert (run.status, run.owner, run.last_event_seq) == (Run.Status.RUNNING, "host:1:owner", 3)


def test_a_decision_on_a_waiting_run_is_announced_by_the_decision_and_resumes_it(user):
    run, approval = held_run_with_an_approval(user)
    with pytest.raises(RunWaiting):
        engine_approvals.wait_for_decisions(run)  # pending: the owner lets go
    waiting = Run.objects.get(pk=run.pk)
    assert (waiting.status, waiting.owner) == (Run.Status.WAITING, "")

    decided, resume = approvals.approval_decide(user=user, approval=approval, decision="reject", reason="no")
    assert resume and decided.announced
    assert stored(run) == [(1, "session"), (2, "approval_required"), (3, "approval_result")]
    assert RunEvent.objects.get(run=run, seq=3).data["approval"]["decision"] == "rejected"
    resumed = Run.objects.get(pk=run.pk)
    assert (resumed.status, resumed.resume_reason) == (Run.Status.QUEUED, "approval")
    # Its next owner numbers on from what is stored.
    again = services.run_claim(run_id=run.pk, owner="host:2:next")
    assert again is not None and again.last_event_seq == 3


def test_the_owner_announces_before_it_lets_go_so_no_decision_is_left_unannounced(user):
    run, first = held_run_with_an_approval(user)
    planner = first.agent
    second = approvals.approval_request(
        run=run, agent=planner, kind=Approval.Kind.TOOL, call_id="call-2", tool="remember", arguments={"content": "x"}
    )
    approvals.approval_decide(user=user, approval=first, decision="approve")  # while held: unannounced
    with pytest.raises(RunWaiting):
        engine_approvals.wait_for_decisions(run)  # `second` still pending: announce `first`, then let go
    assert stored(run)[-1] == (4, "approval_result")
    approvals.approval_decide(user=user, approval=second, decision="approve")  # nobody holds it: announced here
    assert [kind for _, kind in stored(run)] == [
        "session",
        "approval_required",
        "approval_required",
        "approval_result",
        "approval_result",
    ]
    assert not Approval.objects.filter(run=run, announced=False).exists()
