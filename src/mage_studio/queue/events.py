"""The hook through which the queue announces job changes to event streams.

The realtime domain sets `app.state.job_event_publisher` to an async callable
`(app, job_id, event) -> None`; until then events go nowhere. Events are dicts with a
`type` of `status`, `progress` or `frame`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI

log = structlog.get_logger(__name__)

JobEventPublisher = Callable[[FastAPI, int, dict[str, Any]], Awaitable[None]]


async def publish_job_event(app: FastAPI, job_id: int, event: dict[str, Any]) -> None:
    """Hand `event` about `job_id` to the installed publisher, if any.

    A failing publisher is logged and never fails the caller: events are a
    convenience on top of the database, which stays the source of truth.
    """
    publisher: JobEventPublisher | None = getattr(
        app.state, "job_event_publisher", None
    )
    if publisher is None:
        return
    try:
        await publisher(app, job_id, event)
    except Exception:
        log.exception("job_event_publish_failed", job_id=job_id, type=event.get("type"))
