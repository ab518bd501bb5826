"""Finding runs nobody is executing, and handing them over again.

Every process that starts runs or executes them sweeps now and then (its
maintenance thread; ``manage.py sweep_runs`` by hand). A sweep:

- takes the running runs whose owner was lost: its lease expired, or its
  owner is a process of this host that no longer exists (a ``kill -9``'d
  ``make run``, noticed at once on the next start). With attempts left the
  run is queued again (``resume_reason`` ``worker_lost``) and submitted; after
  ``AGENT_MAX_ATTEMPTS`` it ends ``failed`` with ``worker_lost``;
- submits again the queued runs nobody claimed within a lease (a lost Celery
  message, a process that stopped before its pool got to them); at a
  process's start, every queued run created before it started (what an
  earlier process left);
- starts the next run of a session whose runs wait on hold behind no
  active run (the promotion after the active run ended was lost).

- expires approvals past ``AGENT_APPROVAL_TIMEOUT`` (they count as
  rejected) and submits the runs that no longer wait for anything.

Every change is a conditional UPDATE, so sweepers in many processes, and an
owner that comes back to life, can never both act on one run.
"""

import logging
import os
import socket

from django.apps import apps
from django.conf import settings

from agents.models import Run
from agents.runs import costs, limits, queue, selectors, services
from agents.runtime import approvals, runners

logger = logging.getLogger(__name__)

SWEEP_BATCH = 100
WORKER_LOST_MESSAGE = "The run was stopped: the workers running it were lost {attempts} times."


def _dead_local_owners() -> list[str]:
    """Return the owners of running runs that were processes of this host and are gone."""
    host = socket.gethostname()
    dead = []
    for owner in selectors.running_owners():
        parts = owner.rsplit(":", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.append(owner)
        except PermissionError:
            continue  # alive, someone else's
    return dead


def sweep(*, at_start: bool = False) -> dict[str, list[str]]:
    """Hand over again the runs nobody executes; fail those out of attempts. Returns the ids by what was done."""
    done: dict[str, list[str]] = {
        "requeued": [],
        "failed": [],
        "submitted": [],
        "promoted": [],
        "approvals_expired": [],
    }
    done["approvals_expired"] = approvals.approvals_expire_due()
    dead = set(_dead_local_owners())
    lost = selectors.runs_lost(limit=SWEEP_BATCH)
    if dead:
        lost += [run for run in selectors.runs_of_owners(owners=sorted(dead)) if run not in lost]
    for run in lost:
        owner_dead = run.owner in dead
        if run.attempts_counted >= settings.AGENT_MAX_ATTEMPTS:
            if services.run_finish(
                run=run,
                status=Run.Status.FAILED,
                error_code="worker_lost",
                error_message=WORKER_LOST_MESSAGE.format(attempts=run.attempts_counted),
                error_detail=f"last owner {run.owner}",
                fenced=True,
            ):
                limits.budget_settle(user_id=run.user_id, run_id=str(run.pk), tokens_used=run.total_tokens)
                costs.run_settle(run_id=run.pk)
                logger.warning("Run %s failed: its worker was lost %d times", run.pk, run.attempt)
                done["failed"].append(str(run.pk))
        elif services.run_requeue_lost(run=run, owner_dead=owner_dead):
            logger.warning("Run %s: owner %s lost; queued again for attempt %d", run.pk, run.owner, run.attempt + 1)
            runners.submit(run.pk)
            done["requeued"].append(str(run.pk))
    created_before = apps.get_app_config("agents").started_at if at_start else None
    for run in selectors.runs_waiting_in_queue(limit=SWEEP_BATCH, created_before=created_before):
        services.run_mark_submitted(run_id=run.pk)
        runners.submit(run.pk)
        done["submitted"].append(str(run.pk))
    # Submitted through the run_ready signal (agents.receivers) once each promotion commits.
    done["promoted"] = queue.promote_stalled(limit=SWEEP_BATCH, lease_until=services.lease_end())
    return done
