"""Column types keep what Python stores in them on every dialect."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from mage_studio.queue.models import RenderTiming
from tests.factories import create_user
from tests.queue.factories import create_job

# More significant digits than single precision keeps: MariaDB's FLOAT returns 12.3457.
PRECISE = 12.345678901234


async def test_float_column_keeps_double_precision(session: AsyncSession) -> None:
    session.add(RenderTiming(key="probe", seconds_per_frame=PRECISE, samples=1))
    await session.commit()
    session.expunge_all()

    stored = await session.scalar(
        select(RenderTiming.seconds_per_frame).where(RenderTiming.key == "probe")
    )

    assert stored == PRECISE


async def test_job_durations_keep_double_precision(session: AsyncSession) -> None:
    user = await create_user(session)
    job = await create_job(
        session, user, source_duration=PRECISE, job_time=PRECISE, denoising=0.35
    )
    await session.commit()
    session.expunge_all()

    row = (
        await session.execute(
            select(
                VideoJob.source_duration, VideoJob.job_time, VideoJob.denoising
            ).where(VideoJob.id == job.id)
        )
    ).one()

    assert row.source_duration == PRECISE
    assert row.job_time == PRECISE
    assert row.denoising == 0.35
