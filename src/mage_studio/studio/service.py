"""Studio jobs: exports, compositions, joined videos and audio edits, queued as renders.

A studio job is a `VideoJob` with generator "studio", queued at once on the low
queue as a full render. Its request is kept in `generation_parameters`:
`{"operation", "sourceJobIds", "options"}`. Credits for its output seconds are
reserved like a render's, and settled by the queue when the worker reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import renders
from mage_studio.config import Settings
from mage_studio.core.storage import Storage, new_key
from mage_studio.errors import InvalidTransition, NotFound, ValidationFailed
from mage_studio.jobs import charges
from mage_studio.jobs import service as jobs_service
from mage_studio.jobs.models import JobStatus, RenderKind, VideoJob
from mage_studio.jobs.transitions import queue_values
from mage_studio.render.studio.options import (
    AudioOptions,
    CompositionOptions,
    StudioModel,
)
from mage_studio.studio import repository
from mage_studio.studio.models import STUDIO_GENERATOR
from mage_studio.studio.planning import plan_output, seconds_of, studio_price
from mage_studio.studio.schemas import (
    AudioRequest,
    CompositionRequest,
    ExportRequest,
)
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

FINISHED = JobStatus.FINISHED.value


def operation_of(job: VideoJob) -> str:
    return str((job.generation_parameters or {}).get("operation", ""))


def source_ids_of(job: VideoJob) -> list[int]:
    ids = (job.generation_parameters or {}).get("sourceJobIds") or []
    return [int(value) for value in ids]


def options_of(job: VideoJob) -> dict[str, Any]:
    options = (job.generation_parameters or {}).get("options")
    return dict(options) if isinstance(options, dict) else {}


async def get_studio_job(session: AsyncSession, user: User, job_id: int) -> VideoJob:
    """Return the caller's studio job, or raise 404 (also for others' jobs)."""
    job = await repository.studio_job(session, user.id, job_id)
    if job is None:
        raise NotFound("Studio job not found.")
    return job


async def list_studio_jobs(
    session: AsyncSession,
    user: User,
    *,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[VideoJob], int]:
    return await repository.studio_jobs_page(
        session, user.id, status=status, offset=offset, limit=limit
    )


async def cancel_studio_job(session: AsyncSession, user: User, job_id: int) -> VideoJob:
    """Cancel a queued studio job at once, or ask its worker to stop (processing).

    The rules and the credit release are those of every video job.
    """
    await get_studio_job(session, user, job_id)
    return await jobs_service.cancel(session, user, job_id)


# --- sources ----------------------------------------------------------------------


async def load_sources(
    session: AsyncSession, user: User, job_ids: list[int]
) -> list[VideoJob]:
    """Return the caller's finished jobs in the order given.

    Raises 404 for a job that does not exist or is another user's, and 409 for
    one that has not finished (or has no video).
    """
    found = await repository.user_jobs(session, user.id, job_ids)
    sources = []
    for job_id in job_ids:
        job = found.get(job_id)
        if job is None:
            raise NotFound(f"Video job {job_id} not found.")
        if job.status != FINISHED or not job.video_key:
            raise InvalidTransition(
                f"Video job {job_id} is {job.status}; only finished jobs can be used."
            )
        sources.append(job)
    return sources


def _check_composable(job: VideoJob) -> None:
    if job.generator == STUDIO_GENERATOR or not job.source_key:
        raise ValidationFailed.named_field(
            "sourceJobId",
            f"Video job {job.id} has no uploaded source to compose with; choose a "
            "vid2vid or Deforum job.",
        )


async def _check_watermark(
    session: AsyncSession, user: User, options: StudioModel
) -> None:
    if getattr(options, "watermark", None) is None:
        return
    if await repository.watermark_of(session, user.id) is None:
        raise ValidationFailed.named_field(
            "watermark",
            "Upload a watermark first (POST /api/studio/watermark).",
        )


# --- creation ---------------------------------------------------------------------


async def create_export(
    session: AsyncSession, settings: Settings, user: User, request: ExportRequest
) -> VideoJob:
    """Queue an export of the caller's finished job."""
    options = request.options()
    sources = await load_sources(session, user, [request.source_job_id])
    await _check_watermark(session, user, options)
    return await _queue_studio_job(session, settings, user, "export", sources, options)


async def create_composition(
    session: AsyncSession, settings: Settings, user: User, request: CompositionRequest
) -> VideoJob:
    """Queue a composition of a job's source and result, or a join of several jobs."""
    missing = request.missing_field()
    if missing is not None:
        raise ValidationFailed.named_field(
            missing, f"This field is required for the {request.layout} layout."
        )
    options = request.options()
    sources = await load_sources(session, user, request.source_ids)
    if isinstance(options, CompositionOptions):
        _check_composable(sources[0])
        _check_crossfade(options, sources[0])
    await _check_watermark(session, user, options)
    return await _queue_studio_job(
        session, settings, user, request.operation, sources, options
    )


def _check_crossfade(options: CompositionOptions, source: VideoJob) -> None:
    if options.layout != "crossfade":
        return
    seconds = float(seconds_of(source))
    if seconds and options.crossfade.start >= seconds:
        raise ValidationFailed.named_field(
            "crossfade.start",
            f"The crossfade must start before the video ends ({seconds:.2f} s).",
        )


async def create_audio_job(
    session: AsyncSession,
    settings: Settings,
    storage: Storage,
    user: User,
    request: AudioRequest,
    soundtrack_key: str | None,
) -> VideoJob:
    """Queue an audio edit of the caller's finished job.

    `soundtrack_key` is a freshly stored upload, owned by the new job. Without one,
    a mode that needs a soundtrack uses a copy of the source job's soundtrack.
    """
    try:
        options = request.options()
        sources = await load_sources(session, user, [request.source_job_id])
        check_soundtrack(options, uploaded=soundtrack_key is not None)
        if options.needs_soundtrack and soundtrack_key is None:
            soundtrack_key = await _copy_soundtrack(storage, sources[0], options)
        return await _queue_studio_job(
            session,
            settings,
            user,
            "audio",
            sources,
            options,
            soundtrack_key=soundtrack_key,
        )
    except BaseException:
        if soundtrack_key is not None:
            await storage.delete_many([soundtrack_key])
        raise


def check_soundtrack(options: AudioOptions, *, uploaded: bool) -> None:
    """Raise 422 when a soundtrack file was sent for a mode that does not use one."""
    if uploaded and not options.needs_soundtrack:
        raise ValidationFailed.named_field(
            "soundtrack", f"The {options.mode} mode does not use a soundtrack."
        )


async def _copy_soundtrack(
    storage: Storage, source: VideoJob, options: AudioOptions
) -> str:
    if not source.soundtrack_key:
        raise ValidationFailed.named_field(
            "soundtrack",
            f"The {options.mode} mode needs a soundtrack: upload one, or use a job "
            "that has one.",
        )
    extension = source.soundtrack_key.rsplit(".", 1)[-1]
    key = new_key("soundtracks", extension)
    async with storage.local_copy(source.soundtrack_key) as path:
        await storage.save_file(key, path)
    return key


async def _queue_studio_job(
    session: AsyncSession,
    settings: Settings,
    user: User,
    operation: str,
    sources: list[VideoJob],
    options: StudioModel,
    *,
    soundtrack_key: str | None = None,
) -> VideoJob:
    """Insert the job on the low queue and reserve its credits (402 when short)."""
    plan = plan_output(options, sources)
    price = studio_price(plan, settings)
    job = VideoJob(
        user_id=user.id,
        generator=STUDIO_GENERATOR,
        width=plan.width,
        height=plan.height,
        fps_num=plan.fps.numerator,
        fps_den=plan.fps.denominator,
        frame_count=plan.frame_count,
        length=float(plan.seconds),
        soundtrack_key=soundtrack_key,
        generation_parameters={
            "operation": operation,
            "sourceJobIds": [source.id for source in sources],
            "options": options.stored(),
        },
        **queue_values(
            settings,
            kind=RenderKind.FULL,
            frames=plan.frame_count,
            priority_tier=user.priority_tier,
            credits_reserved=price,
        ),
    )
    session.add(job)
    await session.flush()
    await renders.reserve_render(
        session,
        user_id=user.id,
        job_id=job.id,
        attempt_key=charges.hold_key(job, RenderKind.FULL),
        credits=price,
    )
    log.info(
        "studio_job_queued",
        job_id=job.id,
        user_id=user.id,
        operation=operation,
        sources=[source.id for source in sources],
        frames=plan.frame_count,
        credits=price,
    )
    return job
