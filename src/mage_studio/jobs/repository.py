"""Queries of the jobs domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import (
    DeforumPreset,
    JobStatus,
    RenderModel,
    SdInstance,
    VideoJob,
)
from mage_studio.users.models import User

_APPROVED = JobStatus.APPROVED.value
_PROCESSING = JobStatus.PROCESSING.value


async def get_job(
    session: AsyncSession, job_id: int, *, for_update: bool = False
) -> VideoJob | None:
    statement = select(VideoJob).where(VideoJob.id == job_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_user_job(
    session: AsyncSession, user: User, job_id: int, *, for_update: bool = False
) -> VideoJob | None:
    """Return the job if it exists and belongs to `user` (None otherwise)."""
    job = await get_job(session, job_id, for_update=for_update)
    if job is None or job.user_id != user.id:
        return None
    return job


async def list_user_jobs(
    session: AsyncSession, user_id: int, *, offset: int, limit: int
) -> tuple[Sequence[VideoJob], int]:
    """Return a page of the user's jobs, newest first, and their total count."""
    total = await session.scalar(
        select(func.count()).select_from(VideoJob).where(VideoJob.user_id == user_id)
    )
    rows = await session.scalars(
        select(VideoJob)
        .where(VideoJob.user_id == user_id)
        .order_by(VideoJob.created_at.desc(), VideoJob.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), int(total or 0)


async def user_active_jobs(session: AsyncSession, user_id: int) -> Sequence[VideoJob]:
    """Return the user's processing jobs, then their queued jobs in claim order."""
    running_first = case((VideoJob.status == _PROCESSING, 0), else_=1)
    rows = await session.scalars(
        select(VideoJob)
        .where(
            VideoJob.user_id == user_id,
            VideoJob.status.in_((_APPROVED, _PROCESSING)),
        )
        .order_by(running_first, VideoJob.priority, VideoJob.queued_at, VideoJob.id)
    )
    return rows.all()


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """Return the number of queued and processing jobs of all users."""
    rows = await session.execute(
        select(VideoJob.status, func.count())
        .where(VideoJob.status.in_((_APPROVED, _PROCESSING)))
        .group_by(VideoJob.status)
    )
    counts = {status: int(count) for status, count in rows.tuples()}
    return {
        "processing": counts.get(_PROCESSING, 0),
        "queued": counts.get(_APPROVED, 0),
    }


async def list_models(
    session: AsyncSession, *, enabled: bool | None = None
) -> Sequence[RenderModel]:
    statement = select(RenderModel).order_by(RenderModel.id)
    if enabled is not None:
        statement = statement.where(RenderModel.enabled.is_(enabled))
    return (await session.scalars(statement)).all()


async def get_enabled_model(session: AsyncSession, model_id: int) -> RenderModel | None:
    model = await session.get(RenderModel, model_id)
    if model is None or not model.enabled:
        return None
    return model


async def list_presets(session: AsyncSession) -> Sequence[DeforumPreset]:
    rows = await session.scalars(
        select(DeforumPreset)
        .where(DeforumPreset.enabled.is_(True))
        .order_by(DeforumPreset.id)
    )
    return rows.all()


async def get_preset_by_slug(session: AsyncSession, slug: str) -> DeforumPreset | None:
    preset = await session.scalar(
        select(DeforumPreset).where(DeforumPreset.slug == slug)
    )
    if preset is None or not preset.enabled:
        return None
    return preset


async def list_sd_instances(session: AsyncSession) -> Sequence[SdInstance]:
    return (await session.scalars(select(SdInstance).order_by(SdInstance.id))).all()
