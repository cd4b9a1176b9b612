"""Queries of the studio domain: the caller's jobs and watermark."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from mage_studio.studio.models import STUDIO_GENERATOR, StudioWatermark


async def user_jobs(
    session: AsyncSession, user_id: int, job_ids: Collection[int]
) -> dict[int, VideoJob]:
    """Return the user's jobs among `job_ids`, by id (others' jobs are left out)."""
    if not job_ids:
        return {}
    rows = await session.scalars(
        select(VideoJob).where(
            VideoJob.user_id == user_id, VideoJob.id.in_(set(job_ids))
        )
    )
    return {job.id: job for job in rows}


async def studio_job(
    session: AsyncSession, user_id: int, job_id: int
) -> VideoJob | None:
    """Return the user's studio job, or None (also for other users' jobs)."""
    job: VideoJob | None = await session.scalar(
        select(VideoJob).where(
            VideoJob.id == job_id,
            VideoJob.user_id == user_id,
            VideoJob.generator == STUDIO_GENERATOR,
        )
    )
    return job


async def studio_jobs_page(
    session: AsyncSession,
    user_id: int,
    *,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[VideoJob], int]:
    """Return a page of the user's studio jobs, newest first, and their total."""
    conditions = [
        VideoJob.user_id == user_id,
        VideoJob.generator == STUDIO_GENERATOR,
    ]
    if status is not None:
        conditions.append(VideoJob.status == status)
    total = await session.scalar(
        select(func.count()).select_from(VideoJob).where(*conditions)
    )
    rows = await session.scalars(
        select(VideoJob)
        .where(*conditions)
        .order_by(VideoJob.created_at.desc(), VideoJob.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), int(total or 0)


async def watermark_of(session: AsyncSession, user_id: int) -> StudioWatermark | None:
    watermark: StudioWatermark | None = await session.scalar(
        select(StudioWatermark).where(StudioWatermark.user_id == user_id)
    )
    return watermark
