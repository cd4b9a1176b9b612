"""Wake-ups for long-polling claims when a job is queued.

Within one process an in-memory generation counter and an `asyncio.Event` wake every
waiting claim. With Redis configured, `notify_queued` also publishes on a channel that
every API process subscribes to (see hooks.py), so a job queued in one process wakes
claims waiting in the others.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import FastAPI

log = structlog.get_logger(__name__)

QUEUED_CHANNEL = "mage:queue:queued"


class QueueNotifier:
    """A generation counter that claims wait on.

    A claim reads `generation` before it looks for a job and then waits with
    `wait_for_change(generation, timeout)`, so a job queued between the look-up and the
    wait still wakes it.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._event = asyncio.Event()

    def notify(self) -> None:
        self.generation += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for_change(self, generation: int, timeout: float) -> bool:
        """Wait until `notify` has run since `generation`; False on timeout."""
        if self.generation != generation:
            return True
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return self.generation != generation


def notifier_of(app: FastAPI) -> QueueNotifier:
    notifier: QueueNotifier | None = getattr(app.state, "queue_notifier", None)
    if notifier is None:
        notifier = QueueNotifier()
        app.state.queue_notifier = notifier
    return notifier


async def notify_queued(app: FastAPI) -> None:
    """Wake the claims waiting for work, in this process and (with Redis) the others.

    Call it after the transaction that queued the job has committed.
    """
    notifier_of(app).notify()
    redis = getattr(app.state, "queue_redis", None)
    if redis is None:
        return
    try:
        await redis.publish(QUEUED_CHANNEL, "1")
    except Exception as exc:
        # Other processes still find the job at their next periodic claim attempt.
        log.warning("queue_notify_publish_failed", error=str(exc))
