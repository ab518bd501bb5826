"""The engine's answers to other apps' signals (connected in AgentsConfig.ready)."""

from django.dispatch import receiver

from agents.runs import services
from sessions.signals import session_deleting


@receiver(session_deleting)
def lock_runs_of_a_deleting_session(sender, session, **kwargs) -> None:
    services.runs_lock_for_deletion(session=session)
