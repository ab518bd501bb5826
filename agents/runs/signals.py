"""Signals of the runs layer, for the layers above it (the runtime connects them in ``agents.receivers``)."""

from django.dispatch import Signal

# Sent after commit with ``run_id`` when a run that waited behind its session's active run
# (multitask ``enqueue`` or ``interrupt``) became the session's next: the runtime submits it.
run_ready = Signal()
