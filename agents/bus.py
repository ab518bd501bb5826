"""How listeners learn that a run has new events.

Placeholder interface, replaced by the streaming work: ``publish`` is called
after an event commits; ``wait`` returns when the run may have new events or
the timeout passes.
"""


def publish(run_id: str, seq: int) -> None:
    """Say that run ``run_id`` has stored event ``seq``."""


async def wait(run_id: str, after_seq: int, timeout: float) -> None:
    """Return when run ``run_id`` may have an event after ``after_seq``, or after ``timeout`` seconds."""
    import asyncio

    await asyncio.sleep(min(timeout, 0.2))
