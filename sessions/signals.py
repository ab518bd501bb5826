"""Signals of the sessions app, for apps that hang their own rows on a session."""

from django.dispatch import Signal

# Sent inside the deleting transaction, before the cascade is collected, with ``session``.
# A receiver can lock or stop what would otherwise insert rows under the session meanwhile.
session_deleting = Signal()
