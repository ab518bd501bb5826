"""Database connections of engine threads: give them back before waiting.

A run's threads spend most of their time waiting on a model, a tool or other
threads. With PostgreSQL, a connection a thread keeps is a slot of the shared
pool that nobody else can use; twenty runs waiting on slow models would hold
twenty slots and starve every other writer (issue: "PoolTimeout fails every
run"). So engine threads give their connection back to the pool before each
wait and take one again at their next write, which the pool makes cheap.

An SQLite connection is a file handle private to its thread and reopening it
costs more than it saves, so it is kept.
"""

from django.db import connection, connections


def release_thread_connections() -> None:
    """Close this thread's server connections (back to the pool); keep SQLite's file handle unless it broke.

    At the end of a run, and after each call a request's thread makes for a stream.
    """
    for conn in connections.all(initialized_only=True):
        if conn.vendor != "sqlite" or (conn.errors_occurred and not conn.is_usable()):
            conn.close()


def give_back_connection() -> None:
    """Return this thread's database connection to the pool (PostgreSQL) unless a transaction is open."""
    if connection.connection is None or connection.vendor == "sqlite" or connection.in_atomic_block:
        return
    connection.close()
