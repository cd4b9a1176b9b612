"""App state and background services of the queue.

`install(app)` sets `app.state.queue_notifier` (claim wake-ups) and
`app.state.queue_snapshot` (placement for `/status`), and registers the queue service.
With Redis configured, the service connects (`app.state.queue_redis`) and relays queue
wake-ups between processes. The leader reaps expired leases every
`reaper_interval_seconds` and recomputes the snapshot every `queue_snapshot_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from fastapi import FastAPI

from mage_studio.config import Settings
from mage_studio.queue.leader import Leadership, choose_leadership
from mage_studio.queue.notifier import QUEUED_CHANNEL, QueueNotifier, notifier_of
from mage_studio.queue.service import reap_expired_leases
from mage_studio.queue.snapshot import QueueSnapshot

log = structlog.get_logger(__name__)

RETRY_SECONDS = 2.0
# How long shutdown waits for a periodic pass in progress before cancelling it.
STOP_GRACE_SECONDS = 30.0


def install(app: FastAPI) -> None:
    app.state.queue_notifier = QueueNotifier()
    app.state.queue_snapshot = QueueSnapshot(app)
    app.state.queue_redis = None
    app.state.service_factories.append(create_queue_service)


async def create_queue_service(app: FastAPI) -> QueueService:
    return QueueService(app)


class QueueService:
    """The reaper and snapshot loop, and the Redis wake-up relay."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.settings: Settings = app.state.settings
        self.tasks: list[asyncio.Task[None]] = []
        self.periodic: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()
        self.leadership: Leadership | None = None
        self.redis: Any = None

    async def start(self) -> None:
        if self.settings.redis_url:
            import redis.asyncio as redis_asyncio

            self.redis = redis_asyncio.from_url(self.settings.redis_url)
            self.app.state.queue_redis = self.redis
            self.tasks.append(asyncio.create_task(self._relay_wakeups()))
        ttl = 3 * max(self.settings.queue_snapshot_seconds, 1.0)
        self.leadership = choose_leadership(self.app.state.database, self.redis, ttl)
        self.periodic = asyncio.create_task(self._run_periodic())
        log.info("queue_service_started", redis=self.redis is not None)

    async def stop(self) -> None:
        # Let the periodic pass finish, because one cancelled inside a database
        # call can leave its connection open and, on SQLite, the write lock held.
        self.stopping.set()
        if self.periodic is not None:
            try:
                await asyncio.wait_for(self.periodic, STOP_GRACE_SECONDS)
            except TimeoutError:
                log.warning("queue_periodic_work_cancelled")
            self.periodic = None
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
        if self.leadership is not None:
            await self.leadership.release()
        if self.redis is not None:
            self.app.state.queue_redis = None
            await self.redis.aclose()
        log.info("queue_service_stopped")

    async def _run_periodic(self) -> None:
        assert self.leadership is not None
        settings = self.settings
        tick = min(settings.queue_snapshot_seconds, settings.reaper_interval_seconds)
        next_reap = 0.0
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                leader = await self.leadership.acquire()
                if leader and started >= next_reap:
                    next_reap = started + settings.reaper_interval_seconds
                    await reap_expired_leases(self.app)
                # Without Redis the snapshot lives in process memory, so every
                # process computes its own; with Redis only the leader does.
                if leader or self.redis is None:
                    await self.app.state.queue_snapshot.refresh()
            except Exception:
                log.exception("queue_periodic_work_failed")
            # A slow pass (a very long queue) is followed by a longer pause, so the
            # periodic work takes at most a fifth of the time (and of SQLite's lock).
            busy = time.monotonic() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), max(tick, 4 * busy))

    async def _relay_wakeups(self) -> None:
        notifier = notifier_of(self.app)
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(QUEUED_CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            notifier.notify()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("queue_wakeup_relay_failed", error=str(exc))
                await asyncio.sleep(RETRY_SECONDS)
