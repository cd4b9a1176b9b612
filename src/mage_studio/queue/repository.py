"""Read queries of the queue domain's admin views."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.jobs.models import VideoJob
from mage_studio.queue.models import Worker, WorkerToken
from mage_studio.queue.schemas import WorkerJobRead, WorkerRead


def token_fields(record: WorkerToken) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "createdById": record.created_by_id,
        "createdAt": record.created_at,
        "lastUsedAt": record.last_used_at,
        "revokedAt": record.revoked_at,
        "revoked": record.revoked_at is not None,
    }


async def list_workers(
    session: AsyncSession, settings: Settings, *, include_stale: bool
) -> list[WorkerRead]:
    """Return workers (seen within `worker_live_seconds` unless `include_stale`)."""
    since = utcnow() - timedelta(seconds=settings.worker_live_seconds)
    query = select(Worker, VideoJob).outerjoin(
        VideoJob, VideoJob.id == Worker.current_job_id
    )
    if not include_stale:
        query = query.where(Worker.last_seen_at >= since)
    rows = await session.execute(query.order_by(Worker.name))
    return [_worker_read(worker, job, since) for worker, job in rows.tuples()]


def _worker_read(worker: Worker, job: VideoJob | None, since: Any) -> WorkerRead:
    capabilities = worker.capabilities or {}
    current = None
    if job is not None:
        current = WorkerJobRead(
            id=job.id,
            status=job.status,
            attempt=job.attempt,
            progress=job.progress,
            heartbeatAt=job.heartbeat_at,
            leaseExpiresAt=job.lease_expires_at,
        )
    return WorkerRead(
        id=worker.id,
        name=worker.name,
        tokenId=worker.token_id,
        queues=list(worker.queues or []),
        generators=list(capabilities.get("generators") or []),
        models=list(capabilities.get("models") or []),
        lastSeenAt=worker.last_seen_at,
        live=worker.last_seen_at is not None and worker.last_seen_at >= since,
        currentJob=current,
    )
