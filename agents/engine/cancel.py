"""Where a run's owner notices a cancel, a lost lease or a drain: ``CancelWatch``."""

import time
from collections.abc import Callable

from agents.exceptions import RunCancelled, RunGone, RunReleased
from agents.models import Run
from agents.runs import selectors
from agents.runs.connections import give_back_connection

# How often the cancel flag is read from the database at most: a check per
# streamed chunk must not become a query per token.
CANCEL_CHECK_INTERVAL = 0.2


class CancelWatch:
    """Answer "should this run stop?" for its owner, reading the database at most every CANCEL_CHECK_INTERVAL.

    Calling it returns True once the user asked to cancel. It raises RunGone
    when the run was deleted, finished elsewhere, or taken over by another
    owner (its lease was lost), and RunReleased when this process asked its
    runs back (draining): in those cases the agent must stop writing at once.
    """

    def __init__(self, run: Run, *, should_release: Callable[[], bool] | None = None):
        self.run = run
        self.run_id = run.pk
        self.should_release = should_release
        # A run just claimed was read by its claim: the first check is due an interval later.
        self._cancelled = bool(run.owner and run.cancel_requested)
        self.gone = False
        self._checked_at = time.monotonic() if run.owner else 0.0

    def __call__(self) -> bool:
        if self.should_release is not None and self.should_release():
            raise RunReleased()
        if not self.gone and not self._cancelled and time.monotonic() - self._checked_at >= CANCEL_CHECK_INTERVAL:
            control = selectors.run_control(run_id=self.run_id)
            give_back_connection()  # asked between chunks of a model stream: do not keep it for the rest
            self._checked_at = time.monotonic()
            if control is None:
                self.gone = True
            else:
                cancel_requested, status, owner, attempt = control
                held = status in Run.ACTIVE_STATUSES and (
                    not self.run.owner or (owner, attempt) == (self.run.owner, self.run.attempt)
                )
                self.gone = not held
                self._cancelled = bool(cancel_requested)
        if self.gone:
            raise RunGone()
        return self._cancelled

    def check(self) -> None:
        """Raise RunCancelled if the run was cancelled (RunGone or RunReleased as ``__call__`` does)."""
        if self():
            raise RunCancelled()
