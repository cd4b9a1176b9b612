"""GPU credits around a render: reserve when queued, settle when done, release.

The job and queue code call these three functions; the ledger work is done by
`mage_studio.billing.renders`. A render costs its frames times the model's
`credits_per_frame` (preview frames up to `settings.free_preview_frames` are free).
Each call only flushes; the caller's transaction commits.
"""

from __future__ import annotations

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from mage_studio.billing import renders
from mage_studio.config import Settings
from mage_studio.jobs.models import RenderKind, RenderModel, VideoJob

log = structlog.get_logger(__name__)


async def _rate(
    session: AsyncSession, job: VideoJob, model: RenderModel | None = None
) -> int:
    if model is None and job.model_id is not None:
        model = await session.get(RenderModel, job.model_id)
    if model is not None:
        return model.credits_per_frame
    # The model was deleted after queueing: charge at the rate the hold was made at.
    frames = job.render_frames or 0
    return job.credits_reserved // frames if frames else 0


def hold_key(job: VideoJob, kind: RenderKind) -> str:
    """Name of one reservation: a job may be rendered several times (previews).

    The job's creation time distinguishes jobs that reuse the id of a deleted job,
    as SQLite does when the newest row is deleted. Without it, the new job would
    get the settled hold of the deleted one and render without holding credits.
    """
    created = job.created_at.strftime("%Y%m%d%H%M%S%f")
    return f"{kind.value}-r{job.revision}-{created}"


async def render_price(
    session: AsyncSession,
    job: VideoJob,
    *,
    frames: int,
    kind: RenderKind,
    settings: Settings,
    model: RenderModel | None = None,
) -> int:
    """Return the credits a render of `frames` frames of this job costs.

    `model` defaults to the job's model; pass it when the render switches models.
    """
    rate = await _rate(session, job, model)
    return renders.render_cost(
        frames, rate, preview=kind is RenderKind.PREVIEW, settings=settings
    )


async def reserve_for_render(
    session: AsyncSession,
    job: VideoJob,
    settings: Settings,
    *,
    frames: int,
    kind: RenderKind,
    model: RenderModel | None = None,
) -> int:
    """Hold the credits of the render about to be queued and return the amount.

    Raises `InsufficientCredits` (402, code 1011) when the user's available credits
    do not cover it.
    """
    credits = await render_price(
        session, job, frames=frames, kind=kind, settings=settings, model=model
    )
    await renders.reserve_render(
        session,
        user_id=job.user_id,
        job_id=job.id,
        attempt_key=hold_key(job, kind),
        credits=credits,
    )
    return credits


async def settle_render(
    session: AsyncSession, job: VideoJob, frames_done: int, settings: Settings
) -> int:
    """Charge the frames rendered so far and release the rest of the hold.

    For completion, a cancel after some frames and a failure after some frames.
    Returns the credits charged (0 when the hold was already settled).
    """
    kind = RenderKind(job.render_kind or RenderKind.FULL.value)
    if job.model_id is None and kind is RenderKind.FULL and job.render_frames:
        # Full renders without a model (studio jobs, or a model deleted meanwhile)
        # hold the price of the whole render: charge it pro rata to the frames done.
        done = min(max(0, frames_done), job.render_frames)
        used = job.credits_reserved * done // job.render_frames
    else:
        used = await render_price(
            session, job, frames=max(0, frames_done), kind=kind, settings=settings
        )
    settlement = await renders.capture_render(session, job_id=job.id, credits_used=used)
    await _clear_reserved(session, job)
    log.info(
        "render_credits_settled",
        job_id=job.id,
        frames_done=frames_done,
        outcome=settlement.outcome.value,
        captured=settlement.captured,
        released=settlement.released,
    )
    return settlement.captured


async def release_render(session: AsyncSession, job: VideoJob) -> None:
    """Return the whole hold: cancel before the first frame, failure without charge."""
    settlement = await renders.release_render(session, job_id=job.id)
    await _clear_reserved(session, job)
    log.info(
        "render_credits_released",
        job_id=job.id,
        outcome=settlement.outcome.value,
        released=settlement.released,
    )


async def _clear_reserved(session: AsyncSession, job: VideoJob) -> None:
    # Not a status change, so no compare-and-set: only the bookkeeping column.
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == job.id)
        .values(credits_reserved=0)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(job, "credits_reserved", 0)
