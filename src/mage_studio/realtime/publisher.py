"""Publishing job events on the bus: the job's channel and its owner's channel.

The queue domain calls `app.state.job_event_publisher(app, job_id, event)` after its
transactions commit (see `mage_studio.queue.events`); this module provides that
callable. The owner's channel only gets a small hint, which wakes the owner's
processing overview.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import select

from mage_studio.core.db import Database
from mage_studio.core.events import EventBus
from mage_studio.jobs.models import VideoJob
from mage_studio.realtime.channels import job_channel, user_channel

log = structlog.get_logger(__name__)

OWNER_CACHE_SIZE = 4096
# Event types the processing overview shows a change for.
_OVERVIEW_TYPES = {"status", "progress"}


def bus_of(app: FastAPI) -> EventBus:
    bus: EventBus = app.state.events
    return bus


def latest_applied(applied: object) -> dict[str, Any] | None:
    """Return `{"frame", "values"}` of the highest frame in a per-frame record."""
    if not isinstance(applied, Mapping) or not applied:
        return None
    frames = [(int(key), key) for key in applied if str(key).isdigit()]
    if not frames:
        return None
    number, key = max(frames)
    values = applied[key]
    return {"frame": number, "values": values if isinstance(values, dict) else {}}


def condense(event: Mapping[str, Any]) -> dict[str, Any]:
    """Keep an event small: only the newest frame of an `applied` record."""
    data = dict(event)
    if "applied" in data:
        data["applied"] = latest_applied(data["applied"])
    return data


class JobEventPublisher:
    """The `(app, job_id, event)` callable the queue domain publishes through.

    Job owners never change, so they are cached (a bounded LRU) to spare a
    database read per heartbeat.
    """

    def __init__(self) -> None:
        self._owners: OrderedDict[int, int] = OrderedDict()

    async def __call__(
        self, app: FastAPI, job_id: int, event: Mapping[str, Any]
    ) -> None:
        bus = bus_of(app)
        data = condense(event)
        await bus.publish(job_channel(job_id), data)
        if data.get("type") not in _OVERVIEW_TYPES:
            return
        owner = await self._owner(app, job_id)
        if owner is not None:
            hint = {"type": "job", "job_id": job_id, "status": data.get("status")}
            await bus.publish(user_channel(owner), hint)

    def remember(self, job_id: int, user_id: int) -> None:
        self._owners[job_id] = user_id
        self._owners.move_to_end(job_id)
        while len(self._owners) > OWNER_CACHE_SIZE:
            self._owners.popitem(last=False)

    async def _owner(self, app: FastAPI, job_id: int) -> int | None:
        owner = self._owners.get(job_id)
        if owner is not None:
            self._owners.move_to_end(job_id)
            return owner
        database: Database = app.state.database
        async with database.session() as session:
            found: int | None = await session.scalar(
                select(VideoJob.user_id).where(VideoJob.id == job_id)
            )
        if found is not None:
            self.remember(job_id, found)
        return found
