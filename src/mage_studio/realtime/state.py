"""Reading a job's state and a user's processing overview for event streams.

Each read opens its own short session and closes it before returning, so a stream
that lives for minutes never holds a connection (or, on SQLite, the write lock)
between reads.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import Database
from mage_studio.jobs import repository
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.jobs.presenters import JobPresenter, unix
from mage_studio.jobs.schemas import ProcessingStatus, StatusCounts
from mage_studio.queue.models import RenderRun
from mage_studio.queue.spec import steering_of
from mage_studio.realtime.publisher import latest_applied
from mage_studio.realtime.schemas import AppliedRead, FrameRead, JobEventState

TERMINAL = frozenset(
    {JobStatus.FINISHED.value, JobStatus.ERROR.value, JobStatus.CANCELLED.value}
)


def database_of(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def applied_steering(session: AsyncSession, job: VideoJob) -> dict[str, Any]:
    """Return the per-frame values the job's latest render attempt applied."""
    if job.attempt < 1:
        return {}
    applied = await session.scalar(
        select(RenderRun.applied_steering).where(
            RenderRun.job_id == job.id, RenderRun.attempt == job.attempt
        )
    )
    return dict(applied or {})


async def load_job_state(
    request: Request,
    job_id: int,
    frame: FrameRead | None = None,
    *,
    with_applied: bool = True,
) -> JobEventState | None:
    """Return the job as streams show it, or None once it was deleted.

    `frame` is the newest preview frame the stream has received, and it is shown only
    while the job renders. Without `with_applied` the per-frame record of the
    render (large for long renders) is not read and `applied` is None.
    """
    async with database_of(request).session() as session:
        job = await session.get(VideoJob, job_id)
        if job is None:
            return None
        applied = None
        if with_applied:
            applied = latest_applied(await applied_steering(session, job))
    return await job_state(request, job, applied, frame)


async def job_state(
    request: Request,
    job: VideoJob,
    applied: dict[str, Any] | None,
    frame: FrameRead | None,
) -> JobEventState:
    presenter = JobPresenter(request)
    queue = await presenter.queue(job)
    rendering = job.status == JobStatus.PROCESSING.value
    return JobEventState(
        id=job.id,
        status=job.status,
        generator=job.generator,
        render_kind=job.render_kind,
        progress=job.progress,
        frames_done=job.frames_done,
        render_frames=job.render_frames,
        estimated_time_left=presenter.time_left(job, queue),
        job_time=job.job_time,
        queued_at=unix(job.queued_at),
        queue=queue,
        cancel_requested=job.cancel_requested,
        error_message=job.error_message,
        seed=job.seed,
        revision=job.revision,
        urls=presenter.urls(job),
        steering=steering_of(job),
        applied=AppliedRead.model_validate(applied) if applied else None,
        frame=frame if rendering else None,
        final=job.status in TERMINAL,
    )


async def load_processing_status(request: Request, user_id: int) -> ProcessingStatus:
    """Return the data of GET /api/video-jobs/processing/status for `user_id`."""
    async with database_of(request).session() as session:
        active = await repository.user_active_jobs(session, user_id)
        counts = await repository.count_by_status(session)
    presenter = JobPresenter(request)
    summaries = [await presenter.summary(job) for job in active]
    return ProcessingStatus(
        processing=[s for s in summaries if s.status == JobStatus.PROCESSING.value],
        queue=[s for s in summaries if s.status == JobStatus.APPROVED.value],
        counts=StatusCounts(**counts),
    )
