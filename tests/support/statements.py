"""Count the SQL statements a piece of work issues, from every thread (executors have their own connections).

Django's ``CaptureQueriesContext`` sees one connection of one thread; a run
writes from its worker thread and from one thread per parallel executor. This
counts at the cursor, for every connection of the process, and leaves out
transaction control (``BEGIN``, ``SAVEPOINT``, ``RELEASE``, ``COMMIT``): a
statement here is a query or a write. Threads named in ``ignore_threads``
(the runtime's maintenance thread: heartbeats and lease renewals, on a timer
of their own) are not counted.
"""

import contextlib
import threading
from collections.abc import Iterator

from django.db.backends import utils

CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")


class Statements:
    def __init__(self, ignore_threads: tuple[str, ...] = ()) -> None:
        self.sql: list[str] = []
        self.ignore_threads = ignore_threads
        self._lock = threading.Lock()

    def add(self, sql: str) -> None:
        if threading.current_thread().name in self.ignore_threads:
            return
        if not sql.lstrip().upper().startswith(CONTROL):
            with self._lock:
                self.sql.append(sql)

    def __len__(self) -> int:
        return len(self.sql)

    def __str__(self) -> str:
        return "\n".join(f"{number:3}. {sql[:160]}" for number, sql in enumerate(self.sql, start=1))


@contextlib.contextmanager
def count_statements(*, ignore_threads: tuple[str, ...] = ("agents-maintenance",)) -> Iterator[Statements]:
    """Yield a ``Statements`` that records every statement issued, by any thread, until the block ends."""
    counted = Statements(ignore_threads)
    original = utils.CursorWrapper._execute_with_wrappers

    def counting(self, sql, params, many, executor):
        counted.add(str(sql))
        return original(self, sql, params, many, executor)

    utils.CursorWrapper._execute_with_wrappers = counting
    try:
        yield counted
    finally:
        utils.CursorWrapper._execute_with_wrappers = original
