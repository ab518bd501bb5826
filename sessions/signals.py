"""Signals of the sessions app, for apps that hang their own rows on a session."""

from django.dispatch import Signal

# Sent before a session is deleted, outside any transaction, with ``session``: a receiver
# stops what would otherwise keep inserting rows under the session (and may wait for it).
session_deleting = Signal()
# Sent inside the deleting transaction, before the cascade is collected, with ``session``:
# a receiver locks what concurrent writers would insert under.
session_delete_locking = Signal()
