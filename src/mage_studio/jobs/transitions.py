"""The job state machine: legal transitions, compare-and-set updates, queue routing.

Every status change is one `UPDATE ... WHERE id = ? AND status = ? AND attempt = ?`.
When two actors race (a cancel and a worker's claim, two finalize calls), exactly one
update matches. The other one updates zero rows and re-reads the job.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.errors import InvalidTransition
from mage_studio.jobs.models import JobStatus, RenderKind, VideoJob

log = structlog.get_logger(__name__)

PENDING = JobStatus.PENDING.value
APPROVED = JobStatus.APPROVED.value
PROCESSING = JobStatus.PROCESSING.value
PREVIEW = JobStatus.PREVIEW.value
FINISHED = JobStatus.FINISHED.value
ERROR = JobStatus.ERROR.value
CANCELLED = JobStatus.CANCELLED.value

# Statuses a preview render may be requested from. A finished job is extended through
# a new job instead; a queued or running one must be cancelled first.
GENERATE_FROM = frozenset({PENDING, PREVIEW, ERROR, CANCELLED})
# Statuses the full render may be requested from (the job needs parameters).
FINALIZE_FROM = frozenset({PENDING, PREVIEW, ERROR, CANCELLED})
CANCEL_NOW_FROM = frozenset({PENDING, APPROVED, PREVIEW})
DELETE_FROM = frozenset({PENDING, APPROVED, PREVIEW, FINISHED, ERROR, CANCELLED})

# Claim order: a lower number is claimed first.
HIGH, MEDIUM, LOW = 0, 1, 2


class RaceLost(Exception):
    """Another actor changed the job between our read and our update."""


def require_status(job: VideoJob, allowed: Collection[str], action: str) -> None:
    """Raise 409/1013 unless the job's status allows `action`."""
    if job.status not in allowed:
        raise InvalidTransition(
            f"Cannot {action} a job that is {job.status}.",
        )


async def compare_and_set(session: AsyncSession, job: VideoJob, **values: Any) -> None:
    """Apply `values` to the job if its status and attempt are still as loaded.

    Bumps `revision` and reloads the job. Raises `RaceLost` when another actor got
    there first, so the caller can re-read and decide again.
    """
    statement = (
        update(VideoJob)
        .where(
            VideoJob.id == job.id,
            VideoJob.status == job.status,
            VideoJob.attempt == job.attempt,
        )
        .values(**values, revision=VideoJob.revision + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    if getattr(result, "rowcount", 0) != 1:
        log.info("job_transition_lost", job_id=job.id, status=job.status)
        await session.refresh(job)
        raise RaceLost()
    await session.refresh(job)


def queue_for(settings: Settings, level: int, priority_tier: int) -> tuple[str, int]:
    """Return (queue name, priority) for a render, one level up for priority tiers."""
    if priority_tier > 0:
        level = max(HIGH, level - 1)
    names = (
        settings.high_priority_queue,
        settings.medium_priority_queue,
        settings.low_priority_queue,
    )
    return names[level], level


def queue_values(
    settings: Settings,
    *,
    kind: RenderKind,
    frames: int,
    priority_tier: int,
    credits_reserved: int,
) -> dict[str, Any]:
    """Column values that put a job at the back of its queue for a new render.

    Preview renders of one frame go to the high queue and longer previews to the
    medium queue; full renders go to the low queue.
    """
    level = HIGH if frames <= 1 else MEDIUM
    if kind is RenderKind.FULL:
        level = LOW
    queue_name, priority = queue_for(settings, level, priority_tier)
    return {
        "status": APPROVED,
        "render_kind": kind.value,
        "render_frames": frames,
        "queue_name": queue_name,
        "priority": priority,
        "queued_at": utcnow(),
        "credits_reserved": credits_reserved,
        "retries": 0,
        "progress": 0.0,
        "frames_done": 0,
        "job_time": 0.0,
        "estimated_time_left": 0.0,
        "cancel_requested": False,
        "lease_owner": None,
        "lease_expires_at": None,
        "heartbeat_at": None,
        "started_at": None,
        "finished_at": None,
        "error_message": None,
    }


def cancelled_values() -> dict[str, Any]:
    """Column values of a job cancelled before a worker started on it."""
    return {
        "status": CANCELLED,
        "progress": 0.0,
        "job_time": 0.0,
        "estimated_time_left": 0.0,
        "cancel_requested": False,
        "credits_reserved": 0,
        "lease_owner": None,
        "lease_expires_at": None,
        "finished_at": utcnow(),
    }
