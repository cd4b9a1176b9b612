"""Video job routes (raw JSON), also served at the root for old clients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.deps import AppSettings, CurrentUser
from mage_studio.core.routing import DbRoute, DbSession, after_commit, json_object
from mage_studio.core.schemas import PageParams, page_params
from mage_studio.core.storage import StorageDep
from mage_studio.jobs import generation, repository, service
from mage_studio.jobs.models import DeforumPreset, VideoJob
from mage_studio.jobs.openapi import json_body, multipart_body
from mage_studio.jobs.params import (
    MAX_ID,
    DeforumRequest,
    FinalizeRequest,
    Vid2VidRequest,
)
from mage_studio.jobs.presenters import JobPresenter, unix
from mage_studio.jobs.schemas import (
    CancelResult,
    FinalizeResult,
    GenerateResult,
    JobDetail,
    JobRead,
    JobStatusRead,
    JobSummary,
    ProcessingStatus,
    StatusCounts,
    UploadResult,
)
from mage_studio.jobs.uploads import read_upload_form
from mage_studio.queue.events import publish_job_event
from mage_studio.queue.notifier import notify_queued

router = APIRouter(route_class=DbRoute, tags=["video jobs"])

JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="Video job id.")]

_UPLOAD_BODY = multipart_body(
    files={
        "attachment": "Video (MP4, MOV, WebM, MKV, Ogg), image (PNG, JPEG, WebP) or "
        "GIF.",
        "soundtrack": "Optional MP3, AAC, M4A or WAV.",
    },
    fields={"type": {"type": "string", "enum": ["vid2vid", "deforum"]}},
    required=["attachment", "type"],
)


def presenter(request: Request) -> JobPresenter:
    return JobPresenter(request)


Presenter = Annotated[JobPresenter, Depends(presenter)]


def _queue_entry(job: VideoJob) -> dict[str, Any]:
    return {
        "progress": job.progress,
        "job_time": job.job_time,
        "estimated_time_left": job.estimated_time_left,
    }


@router.post(
    "/api/upload",
    response_model=UploadResult,
    openapi_extra=_UPLOAD_BODY,
)
@router.post(
    "/upload",
    response_model=UploadResult,
    openapi_extra=_UPLOAD_BODY,
)
async def upload(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    storage: StorageDep,
    jobs: Presenter,
) -> UploadResult:
    """Upload a clip or still (and optionally a soundtrack) as a new pending job.

    Files are checked by decoding them: a renamed or damaged file is rejected
    with 415 or 422 and nothing is stored. Files over the configured limits get 413.
    """
    limits = {
        "attachment": settings.upload_max_bytes,
        "soundtrack": settings.soundtrack_max_bytes,
    }
    form = await read_upload_form(request, storage, limits, user.id)
    try:
        job = await service.upload(session, storage, user, form)
    finally:
        form.discard()
    url = jobs.link(job.source_key)
    assert url is not None
    return UploadResult(url=url, id=job.id)


def _announce(
    request: Request, session: AsyncSession, job: VideoJob, *, queued: bool
) -> None:
    """After the commit, wake waiting workers and tell event subscribers."""
    app = request.app
    job_id, status = job.id, job.status

    async def announce() -> None:
        if queued:
            await notify_queued(app)
        await publish_job_event(app, job_id, {"type": "status", "status": status})

    after_commit(session, announce)


@router.post(
    "/api/generate",
    response_model=GenerateResult,
    openapi_extra=json_body(Vid2VidRequest, DeforumRequest),
)
@router.post(
    "/generate",
    response_model=GenerateResult,
    openapi_extra=json_body(Vid2VidRequest, DeforumRequest),
)
async def generate(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    body: Annotated[Any, Depends(json_object)],
) -> GenerateResult:
    """Set the render parameters of an uploaded job and queue its preview render.

    `frameCount` 1 goes to the high-priority queue, more frames to the medium one.
    Credits for the preview are reserved (402 when short). Allowed while the job is
    pending, previewed, failed or cancelled; otherwise 409.
    """
    job = await generation.generate(session, settings, user, body)
    _announce(request, session, job, queued=True)
    return GenerateResult(
        id=job.id,
        status=job.status,
        seed=job.seed,
        job_time=job.job_time,
        progress=job.progress,
        estimated_time_left=job.estimated_time_left,
        width=job.width,
        height=job.height,
        length=job.length,
        fps=None if job.fps is None else float(job.fps),
    )


@router.post(
    "/api/finalize",
    response_model=FinalizeResult,
    openapi_extra=json_body(FinalizeRequest),
)
@router.post(
    "/finalize",
    response_model=FinalizeResult,
    openapi_extra=json_body(FinalizeRequest),
)
async def finalize(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    body: Annotated[Any, Depends(json_object)],
) -> FinalizeResult:
    """Queue the full render of a job on the low-priority queue.

    Keeps the preview's seed and extension. Credits for every frame are reserved
    (402 when short).
    """
    job = await generation.finalize(session, settings, user, body)
    _announce(request, session, job, queued=True)
    return FinalizeResult(
        status=job.status,
        retries=job.retries,
        queued_at=unix(job.queued_at),
        **_queue_entry(job),
    )


@router.post("/api/cancelJob/{videoId}", response_model=CancelResult)
@router.post("/cancelJob/{videoId}", response_model=CancelResult)
async def cancel_job(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    video_id: Annotated[int, Path(alias="videoId", ge=1, le=MAX_ID)],
) -> CancelResult:
    """Cancel a job. Pending, queued and previewed jobs are cancelled at once and
    their reserved credits released.

    A rendering job is flagged (`cancel_requested`): its worker stops before the next
    frame, the frames done are charged and the job turns `cancelled`. Finished,
    failed and cancelled jobs return 409.
    """
    job = await service.cancel(session, user, video_id)
    _announce(request, session, job, queued=False)
    return CancelResult(cancel_requested=job.cancel_requested)


@router.get("/status/{videoId}", response_model=JobStatusRead)
async def job_status(
    user: CurrentUser,
    session: DbSession,
    jobs: Presenter,
    video_id: Annotated[int, Path(alias="videoId", ge=1, le=MAX_ID)],
) -> JobStatusRead:
    """Status, progress, queue position and download links of a job (owner or admin)."""
    job = await service.get_visible_job(session, user, video_id)
    return await jobs.status(job)


@router.get("/api/queue", response_model=list[JobRead])
@router.get("/queue", response_model=list[JobRead])
async def my_jobs(
    user: CurrentUser,
    session: DbSession,
    jobs: Presenter,
    page: Annotated[PageParams, Depends(page_params)],
) -> list[JobRead]:
    """List the caller's jobs, newest first (`page`, `per_page`)."""
    rows, _ = await repository.list_user_jobs(
        session, user.id, offset=page.offset, limit=page.per_page
    )
    return [jobs.row(job) for job in rows]


@router.get("/api/video-jobs/processing/status", response_model=ProcessingStatus)
async def processing_status(
    user: CurrentUser, session: DbSession, jobs: Presenter
) -> ProcessingStatus:
    """List the caller's rendering and queued jobs, with global counts."""
    active = await repository.user_active_jobs(session, user.id)
    summaries = [await jobs.summary(job) for job in active]
    counts = await repository.count_by_status(session)
    return ProcessingStatus(
        processing=[s for s in summaries if s.status == "processing"],
        queue=[s for s in summaries if s.status == "approved"],
        counts=StatusCounts(**counts),
    )


@router.get("/api/video-jobs/processing/queue", response_model=list[JobSummary])
async def processing_queue(
    user: CurrentUser, session: DbSession, jobs: Presenter
) -> list[JobSummary]:
    """List the caller's rendering jobs, then their queued jobs in claim order."""
    active = await repository.user_active_jobs(session, user.id)
    return [await jobs.summary(job) for job in active]


async def _detail(
    session: AsyncSession, jobs: JobPresenter, job: VideoJob
) -> JobDetail:
    preset = None
    if job.preset_id is not None:
        row = await session.get(DeforumPreset, job.preset_id)
        preset = None if row is None else row.slug
    return await jobs.detail(job, preset)


@router.get("/api/video-jobs/{id}", response_model=JobDetail)
async def get_job(
    id: JobId, user: CurrentUser, session: DbSession, jobs: Presenter
) -> JobDetail:
    """Return one of the caller's jobs with links and queue placement."""
    job = await service.get_owned_job(session, user, id)
    return await _detail(session, jobs, job)


@router.delete("/api/video-jobs/{id}", status_code=204, response_class=Response)
async def delete_job(
    id: JobId, user: CurrentUser, session: DbSession, storage: StorageDep
) -> Response:
    """Delete one of the caller's jobs and its files; 409 while it is rendering."""
    await service.delete_job(session, storage, user, id)
    return Response(status_code=204)


@router.post(
    "/api/video-jobs/{id}/soundtrack",
    response_model=JobDetail,
    openapi_extra=multipart_body(
        files={"soundtrack": "MP3, AAC, M4A or WAV."},
        fields={},
        required=["soundtrack"],
    ),
)
async def add_soundtrack(
    id: JobId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    storage: StorageDep,
    jobs: Presenter,
) -> JobDetail:
    """Add or replace the soundtrack; a finished video is remuxed with it.

    The video is not re-encoded; the soundtrack is cut to its length.
    """
    await service.get_owned_job(session, user, id)
    form = await read_upload_form(
        request, storage, {"soundtrack": settings.soundtrack_max_bytes}, user.id
    )
    try:
        job = await service.replace_soundtrack(
            session, storage, settings, user, id, form
        )
    finally:
        form.discard()
    return await _detail(session, jobs, job)
