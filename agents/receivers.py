"""The engine's answers to other apps' signals (connected in AgentsConfig.ready)."""

from django.dispatch import receiver

from agents.runs import services
from agents.runs.signals import run_ready
from agents.runtime import runners
from sessions.signals import session_delete_locking, session_deleting


@receiver(session_deleting)
def stop_runs_of_a_deleting_session(sender, session, **kwargs) -> None:
    services.runs_stop_for_deletion(session=session)


@receiver(session_delete_locking)
def lock_runs_of_a_deleting_session(sender, session, **kwargs) -> None:
    services.runs_lock_for_deletion(session=session)


@receiver(run_ready)
def submit_a_run_whose_turn_came(sender, run_id, **kwargs) -> None:
    runners.submit(run_id)
