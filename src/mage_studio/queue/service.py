"""Queue rules: queueing, claims, heartbeats, results, failures and expired leases.

Every change of a job's status here is fenced by (id, status `processing`, attempt).
The job row is locked first: `FOR UPDATE` on PostgreSQL, while a SQLite transaction
has the write lock from its start. Then the attempt is compared, so a worker whose
lease expired and whose job was re-queued or claimed again can no longer touch it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

import structlog
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.db import Database, utcnow
from mage_studio.core.routing import after_commit
from mage_studio.errors import (
    Conflict,
    NotFound,
    UnsupportedMedia,
    ValidationFailed,
)
from mage_studio.jobs.models import JobStatus, RenderKind, VideoJob
from mage_studio.queue import charges
from mage_studio.queue.dialects import ClaimFilter, claim_next, upsert_worker
from mage_studio.queue.events import publish_job_event
from mage_studio.queue.models import RenderRun, Worker
from mage_studio.queue.notifier import notifier_of, notify_queued
from mage_studio.queue.schemas import (
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    JobAck,
    JobSpec,
    ResultMetadata,
)
from mage_studio.queue.spec import build_job_spec, steering_of
from mage_studio.queue.timing import record_timing, timing_key

log = structlog.get_logger(__name__)

# A waiting claim looks again this often even without a wake-up, so jobs queued by a
# process it hears nothing from (no Redis) or re-queued by the reaper are found.
POLL_SECONDS = 2.0
FRAME_MAX_BYTES = 5 * 1024 * 1024
FRAME_URL_TTL_SECONDS = 3600
FRAME_EXTENSIONS = {"image/jpeg": "jpg", "image/webp": "webp", "image/png": "png"}
RESULT_EXTENSIONS = {
    "video": "mp4",
    "preview_img": "webp",
    "preview_animation": "webp",
    "thumbnail": "jpg",
    "last_frame": "png",
    "rendition_thumbnail_square": "jpg",
    "rendition_backdrop": "jpg",
    "rendition_poster": "jpg",
    "rendition_animated_preview": "webp",
}
RENDITION_PREFIX = "rendition_"
RESULT_KEY_COLUMNS = {
    "video": "video_key",
    "preview_img": "preview_img_key",
    "preview_animation": "preview_animation_key",
    "thumbnail": "thumbnail_key",
    "last_frame": "last_frame_key",
}
UPLOAD_CHUNK = 1024 * 1024


class StaleAttempt(Conflict):
    """The caller's attempt no longer owns the job (re-queued, claimed or ended)."""

    message = (
        "This attempt no longer owns the job: it was re-queued, claimed again or "
        "ended. Drop the job."
    )


class Upload(Protocol):
    """A multipart file as Starlette hands it over."""

    content_type: str | None

    async def read(self, size: int = -1) -> bytes: ...


class FileStore(Protocol):
    """The parts of `app.state.storage` the queue uses."""

    async def save_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        max_bytes: int | None = None,
        content_type: str | None = None,
    ) -> int: ...

    async def delete(self, key: str) -> None: ...

    def signed_url(self, key: str, ttl: int) -> str: ...


def _storage(app: FastAPI) -> FileStore:
    storage: FileStore = app.state.storage
    return storage


# --- queue names and leases -----------------------------------------------------------


def queue_names(settings: Settings) -> list[str]:
    """Return the configured queue names from highest to lowest priority."""
    return [
        settings.high_priority_queue,
        settings.medium_priority_queue,
        settings.low_priority_queue,
    ]


def _clear_lease(job: VideoJob) -> None:
    job.lease_owner = None
    job.lease_expires_at = None


def _clear_progress(job: VideoJob) -> None:
    job.progress = 0.0
    job.frames_done = 0
    job.estimated_time_left = 0.0


# --- claim ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimRequestData:
    """A validated claim: the worker, what it serves and how long it waits."""

    worker_name: str
    token_id: int
    claim_filter: ClaimFilter
    wait: float


def served_queues(settings: Settings, requested: list[str]) -> list[str]:
    """Intersect the worker's queues with the configured ones (empty: all of them)."""
    configured = queue_names(settings)
    if not requested:
        return configured
    served = [name for name in configured if name in requested]
    if not served:
        raise ValidationFailed.field(
            "queues",
            f"None of these queues exists. Configured queues: {', '.join(configured)}.",
        )
    return served


async def claim_job(app: FastAPI, request: ClaimRequestData) -> JobSpec | None:
    """Claim the first job the worker can run, waiting up to `request.wait` seconds.

    Each attempt is its own short transaction, so no lock is held while waiting.
    Returns None when nothing became claimable in time.
    """
    notifier = notifier_of(app)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + request.wait
    while True:
        generation = notifier.generation
        spec, look_again = await _claim_once(app, request)
        if spec is not None:
            return spec
        if look_again:
            continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        await notifier.wait_for_change(generation, min(remaining, POLL_SECONDS))


async def _claim_once(
    app: FastAPI, request: ClaimRequestData
) -> tuple[JobSpec | None, bool]:
    settings: Settings = app.state.settings
    database: Database = app.state.database
    now = utcnow()
    async with database.session() as session:
        job = await claim_next(
            session,
            request.claim_filter,
            owner=request.worker_name,
            now=now,
            lease_until=now + timedelta(seconds=settings.lease_seconds),
        )
        # A worker asking for work runs nothing else, so its current job is the
        # one it gets now, if any.
        await upsert_worker(
            session,
            name=request.worker_name,
            token_id=request.token_id,
            queues=request.claim_filter.queues,
            capabilities={
                "generators": request.claim_filter.generators,
                "models": request.claim_filter.models,
            },
            current_job_id=job.id if job is not None else None,
            now=now,
        )
        if job is None:
            return None, False
        session.add(
            RenderRun(
                job_id=job.id,
                attempt=job.attempt,
                render_kind=job.render_kind,
                worker_name=request.worker_name,
                started_at=now,
                applied_steering={},
            )
        )
        try:
            spec = await build_job_spec(session, settings, _storage(app), job)
        except Exception:
            # A job whose spec cannot be built would be claimed again and again.
            log.exception("job_spec_failed", job_id=job.id)
            message = "The job could not be prepared for rendering."
            await _end_run(session, job, "error", 0, now, error=message)
            await _move_to_error(session, job, message)
            return None, True

    log.info(
        "job_claimed",
        job_id=spec.job_id,
        attempt=spec.attempt,
        worker=request.worker_name,
    )
    await publish_job_event(app, spec.job_id, _status_event(JobStatus.PROCESSING))
    return spec, False


async def _set_current_job(
    session: AsyncSession, worker_name: str | None, job_id: int | None
) -> None:
    if worker_name is None:
        return
    await session.execute(
        update(Worker)
        .where(Worker.name == worker_name)
        .values(current_job_id=job_id, last_seen_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def _release_worker(session: AsyncSession, job: VideoJob) -> None:
    # Only the worker still pointing at this job is released.
    await session.execute(
        update(Worker)
        .where(Worker.current_job_id == job.id)
        .values(current_job_id=None)
        .execution_options(synchronize_session=False)
    )


def _status_event(status: JobStatus | str, **fields: Any) -> dict[str, Any]:
    return {"type": "status", "status": str(status), **fields}


# --- fencing --------------------------------------------------------------------------


async def _fenced_job(
    session: AsyncSession, job_id: int, attempt: int, *, allow_cancelled: bool = False
) -> VideoJob:
    """Lock and return the job if `attempt` still owns it, else raise.

    With `allow_cancelled`, a job cancelled while this attempt ran is returned too, so
    the worker learns of the cancel instead of a conflict.
    """
    job = await session.scalar(
        select(VideoJob)
        .where(VideoJob.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if job is None:
        raise NotFound("Job not found.")
    if job.attempt != attempt:
        raise StaleAttempt()
    if job.status == JobStatus.PROCESSING.value:
        return job
    if (
        allow_cancelled
        and job.status == JobStatus.CANCELLED.value
        and job.lease_owner is not None
    ):
        return job
    raise StaleAttempt()


async def _current_run(session: AsyncSession, job: VideoJob) -> RenderRun | None:
    run: RenderRun | None = await session.scalar(
        select(RenderRun).where(
            RenderRun.job_id == job.id, RenderRun.attempt == job.attempt
        )
    )
    return run


def _elapsed(job: VideoJob, now: datetime) -> float:
    if job.started_at is None:
        return 0.0
    return max(0.0, (now - job.started_at).total_seconds())


# --- heartbeat and preview frames -----------------------------------------------------


async def record_heartbeat(
    app: FastAPI, session: AsyncSession, job_id: int, body: HeartbeatRequest
) -> HeartbeatResponse:
    """Extend the lease, record progress and return the cancel flag and steering."""
    settings: Settings = app.state.settings
    job = await _fenced_job(session, job_id, body.attempt, allow_cancelled=True)
    now = utcnow()
    if job.status == JobStatus.CANCELLED.value:
        return HeartbeatResponse(
            cancel_requested=True, lease_expires_at=job.lease_expires_at or now
        )

    job.lease_expires_at = now + timedelta(seconds=settings.lease_seconds)
    job.heartbeat_at = now
    job.frames_done = body.frames_done
    job.progress = _progress(body)
    job.estimated_time_left = body.eta_seconds or 0.0
    job.job_time = _elapsed(job, now)
    if body.applied:
        await _merge_applied(session, job, body.applied)
    await _set_current_job(session, job.lease_owner, job.id)
    await session.flush()

    event = {
        "type": "progress",
        "progress": job.progress,
        "frames_done": job.frames_done,
        "estimated_time_left": job.estimated_time_left,
        "applied": body.applied,
    }
    after_commit(session, partial(publish_job_event, app, job.id, event))
    return HeartbeatResponse(
        cancel_requested=job.cancel_requested,
        lease_expires_at=job.lease_expires_at,
        steering=steering_of(job),
    )


def _progress(body: HeartbeatRequest) -> float:
    if body.progress == 0 and body.frames_total:
        return min(100.0, 100.0 * body.frames_done / body.frames_total)
    return body.progress


async def _merge_applied(
    session: AsyncSession, job: VideoJob, applied: Mapping[str, Any]
) -> None:
    run = await _current_run(session, job)
    if run is not None:
        # A new dict, so the JSON column is seen as changed.
        run.applied_steering = {**(run.applied_steering or {}), **applied}


async def _chunks(upload: Upload) -> AsyncIterator[bytes]:
    while chunk := await upload.read(UPLOAD_CHUNK):
        yield chunk


async def store_preview_frame(
    app: FastAPI,
    session: AsyncSession,
    job_id: int,
    *,
    attempt: int,
    index: int,
    frame: Upload,
) -> JobAck:
    """Keep the newest rendered frame of a job and announce it to event streams."""
    content_type = (frame.content_type or "").split(";")[0].strip().lower()
    extension = FRAME_EXTENSIONS.get(content_type)
    if extension is None:
        raise UnsupportedMedia("A preview frame must be a JPEG, WebP or PNG image.")
    job = await _fenced_job(session, job_id, attempt)

    storage = _storage(app)
    key = f"frames/{job.id}/latest.{extension}"
    await storage.save_stream(
        key, _chunks(frame), max_bytes=FRAME_MAX_BYTES, content_type=content_type
    )
    event = {
        "type": "frame",
        "index": index,
        "url": storage.signed_url(key, FRAME_URL_TTL_SECONDS),
        "content_type": content_type,
    }
    after_commit(session, partial(publish_job_event, app, job.id, event))
    return JobAck(job_id=job.id, status=job.status)


async def _delete_live_frames(storage: FileStore, job_id: int) -> None:
    for extension in set(FRAME_EXTENSIONS.values()):
        await storage.delete(f"frames/{job_id}/latest.{extension}")


# --- result ---------------------------------------------------------------------------


def _check_result_files(job: VideoJob, files: Mapping[str, Upload]) -> None:
    unknown = sorted(set(files) - set(RESULT_EXTENSIONS))
    if unknown:
        raise ValidationFailed.field(unknown[0], "Unknown result file.")
    if job.render_kind == RenderKind.FULL.value and "video" not in files:
        raise ValidationFailed.field("video", "A full render must include the video.")
    if not files.keys() & {"video", "preview_img"}:
        raise ValidationFailed.field(
            "preview_img", "A preview must include a video or a preview image."
        )


async def _store_outputs(
    storage: FileStore, job: VideoJob, files: Mapping[str, Upload], max_bytes: int
) -> dict[str, str]:
    """Store each result file under a fresh server key; on failure remove them all."""
    stored: dict[str, str] = {}
    try:
        for field_name, upload in files.items():
            extension = RESULT_EXTENSIONS[field_name]
            key = f"renders/{job.id}/{secrets.token_hex(16)}.{extension}"
            await storage.save_stream(key, _chunks(upload), max_bytes=max_bytes)
            stored[field_name] = key
    except BaseException:
        await _delete_keys(storage, list(stored.values()))
        raise
    return stored


async def _delete_keys(storage: FileStore, keys: list[str]) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            log.exception("render_file_delete_failed", key=key)


async def complete_job(
    app: FastAPI,
    session: AsyncSession,
    job_id: int,
    *,
    attempt: int,
    frames_rendered: int,
    metadata: ResultMetadata,
    files: Mapping[str, Upload],
) -> JobAck:
    """Accept a worker's result: store the files, finish the job, charge the frames.

    The fence is checked before anything is stored, so a stale worker's upload leaves
    no file behind. A result for a job whose cancel was requested cancels it instead.
    """
    settings: Settings = app.state.settings
    job = await _fenced_job(session, job_id, attempt)
    if job.cancel_requested:
        return await _finish_cancelled(app, session, job, frames_rendered)
    _check_result_files(job, files)

    storage = _storage(app)
    max_bytes = 4 * settings.upload_max_bytes
    stored = await _store_outputs(storage, job, files, max_bytes)
    try:
        replaced = await _apply_result(
            session, settings, job, stored, frames_rendered, metadata
        )
    except BaseException:
        await _delete_keys(storage, list(stored.values()))
        raise

    after_commit(session, partial(_delete_keys, storage, replaced))
    after_commit(session, partial(_delete_live_frames, storage, job.id))
    event = _status_event(job.status, progress=job.progress)
    after_commit(session, partial(publish_job_event, app, job.id, event))
    log.info("job_rendered", job_id=job.id, attempt=attempt, status=job.status)
    return JobAck(job_id=job.id, status=job.status)


async def _apply_result(
    session: AsyncSession,
    settings: Settings,
    job: VideoJob,
    stored: Mapping[str, str],
    frames_rendered: int,
    metadata: ResultMetadata,
) -> list[str]:
    """Move the job to preview or finished; return the output keys it replaced."""
    now = utcnow()
    elapsed = _elapsed(job, now)
    replaced = []
    renditions = dict(job.renditions or {})
    for field_name, key in stored.items():
        if field_name.startswith(RENDITION_PREFIX):
            old = renditions.get(field_name.removeprefix(RENDITION_PREFIX))
            renditions[field_name.removeprefix(RENDITION_PREFIX)] = key
        else:
            column = RESULT_KEY_COLUMNS[field_name]
            old = getattr(job, column)
            setattr(job, column, key)
        if old and old != key:
            replaced.append(old)
    if renditions != (job.renditions or {}):
        job.renditions = renditions

    is_preview = job.render_kind == RenderKind.PREVIEW.value
    job.status = (JobStatus.PREVIEW if is_preview else JobStatus.FINISHED).value
    job.revision += 1
    job.progress = 100.0
    job.frames_done = frames_rendered
    job.estimated_time_left = 0.0
    job.job_time = elapsed
    job.finished_at = now
    job.cancel_requested = False
    _clear_lease(job)

    await _record_render_timing(session, job, frames_rendered, elapsed, metadata, now)
    await charges.settle(session, job, frames_rendered, settings)
    await _end_run(session, job, job.status, frames_rendered, now, metadata=metadata)
    await _release_worker(session, job)
    await session.flush()
    return replaced


async def _record_render_timing(
    session: AsyncSession,
    job: VideoJob,
    frames: int,
    elapsed: float,
    metadata: ResultMetadata,
    now: datetime,
) -> None:
    if frames <= 0:
        return
    measured = elapsed / frames
    reported = metadata.timings.get("seconds_per_frame")
    # The statistics feed every user's queue estimates, so a report above the time
    # that passed between claim and result (a bogus value) is replaced by that time.
    seconds_per_frame = (
        reported if reported is not None and 0 < reported <= measured else measured
    )
    key = timing_key(job.generator, job.model_id, job.width, job.height)
    await record_timing(session, key, seconds_per_frame, now)


async def _end_run(
    session: AsyncSession,
    job: VideoJob,
    outcome: str,
    frames: int,
    now: datetime,
    *,
    error: str | None = None,
    metadata: ResultMetadata | None = None,
) -> None:
    run = await _current_run(session, job)
    if run is None:
        return
    run.outcome = outcome
    run.finished_at = now
    run.frames_done = frames
    run.error = error
    if metadata is not None:
        run.result_metadata = metadata.model_dump(exclude={"applied_steering"})
        if metadata.applied_steering:
            run.applied_steering = {
                **(run.applied_steering or {}),
                **metadata.applied_steering,
            }


# --- failure, cancel, retry -----------------------------------------------------------


async def fail_job(
    app: FastAPI, session: AsyncSession, job_id: int, body: FailRequest
) -> JobAck:
    """Record a failed or cancelled attempt: re-queue, cancel or move to error."""
    job = await _fenced_job(session, job_id, body.attempt, allow_cancelled=True)
    if (
        job.status == JobStatus.CANCELLED.value
        or body.cancelled
        or job.cancel_requested
    ):
        return await _finish_cancelled(app, session, job, body.frames_rendered)

    settings: Settings = app.state.settings
    now = utcnow()
    if body.retryable and job.retries + 1 < settings.max_attempts:
        await _requeue(session, job, now, outcome="retry", error=body.error)
        after_commit(session, partial(notify_queued, app))
    else:
        await _end_run(
            session, job, "error", body.frames_rendered, now, error=body.error
        )
        await _move_to_error(session, job, body.error or "The render failed.")

    await session.flush()
    after_commit(session, partial(_delete_live_frames, _storage(app), job.id))
    event = _status_event(job.status, error=job.error_message)
    after_commit(session, partial(publish_job_event, app, job.id, event))
    log.info(
        "job_attempt_failed",
        job_id=job.id,
        attempt=body.attempt,
        retryable=body.retryable,
        status=job.status,
        error=body.error,
    )
    return JobAck(job_id=job.id, status=job.status)


async def _requeue(
    session: AsyncSession,
    job: VideoJob,
    now: datetime,
    *,
    outcome: str,
    error: str | None,
) -> None:
    # `queued_at` is left alone: the job returns to its original queue position.
    await _end_run(session, job, outcome, job.frames_done, now, error=error)
    job.status = JobStatus.APPROVED.value
    job.revision += 1
    job.retries += 1
    _clear_lease(job)
    _clear_progress(job)
    await _release_worker(session, job)


async def _move_to_error(session: AsyncSession, job: VideoJob, message: str) -> None:
    job.status = JobStatus.ERROR.value
    job.revision += 1
    job.error_message = message[:4000]
    job.finished_at = utcnow()
    job.estimated_time_left = 0.0
    _clear_lease(job)
    await charges.release(session, job)
    await _release_worker(session, job)
    await session.flush()


async def _finish_cancelled(
    app: FastAPI, session: AsyncSession, job: VideoJob, frames_done: int
) -> JobAck:
    """End a cancelled attempt: charge the frames done and release the rest.

    When the job was already moved to `cancelled` elsewhere, its credits were settled
    there, so only the lease and the worker are released.
    """
    now = utcnow()
    already_cancelled = job.status == JobStatus.CANCELLED.value
    await _end_run(session, job, "cancelled", frames_done, now)
    if not already_cancelled:
        job.status = JobStatus.CANCELLED.value
        job.revision += 1
        job.finished_at = now
        job.cancel_requested = False
        await charges.settle(session, job, frames_done, app.state.settings)
    job.progress = 0.0
    job.job_time = 0.0
    job.estimated_time_left = 0.0
    _clear_lease(job)
    await _release_worker(session, job)
    await session.flush()

    after_commit(session, partial(_delete_live_frames, _storage(app), job.id))
    if not already_cancelled:
        event = _status_event(JobStatus.CANCELLED, progress=0)
        after_commit(session, partial(publish_job_event, app, job.id, event))
    log.info("job_cancelled_by_worker", job_id=job.id, frames_done=frames_done)
    return JobAck(job_id=job.id, status=job.status)


# --- expired leases -------------------------------------------------------------------


async def reap_expired_leases(
    app: FastAPI, *, now: datetime | None = None, limit: int = 200
) -> int:
    """Re-queue (or end) processing jobs whose lease ran out; return how many.

    A job goes back to its original position while attempts remain, to `error`
    (credits released) once they are spent, and to `cancelled` when its cancel was
    requested.
    """
    settings: Settings = app.state.settings
    database: Database = app.state.database
    now = now or utcnow()
    events: list[tuple[int, dict[str, Any]]] = []
    requeued = 0
    async with database.session() as session:
        jobs = await session.scalars(
            select(VideoJob)
            .where(
                VideoJob.status == JobStatus.PROCESSING.value,
                VideoJob.lease_expires_at < now,
            )
            .order_by(VideoJob.lease_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        expired = list(jobs)
        for job in expired:
            worker_name = job.lease_owner
            status = await _expire(session, settings, job, now)
            requeued += status == JobStatus.APPROVED.value
            events.append((job.id, _status_event(status)))
            log.warning(
                "job_lease_expired",
                job_id=job.id,
                attempt=job.attempt,
                worker=worker_name,
                status=status,
            )
    if requeued:
        await notify_queued(app)
    storage = _storage(app)
    for job_id, event in events:
        await _delete_live_frames(storage, job_id)
        await publish_job_event(app, job_id, event)
    return len(expired)


async def _expire(
    session: AsyncSession, settings: Settings, job: VideoJob, now: datetime
) -> str:
    if job.cancel_requested:
        await _end_run(session, job, "cancelled", job.frames_done, now)
        job.status = JobStatus.CANCELLED.value
        job.revision += 1
        job.finished_at = now
        job.cancel_requested = False
        await charges.settle(session, job, job.frames_done, settings)
        _clear_progress(job)
        _clear_lease(job)
        await _release_worker(session, job)
    elif job.retries + 1 < settings.max_attempts:
        await _requeue(session, job, now, outcome="expired", error="lease expired")
    else:
        await _end_run(session, job, "expired", job.frames_done, now)
        await _move_to_error(
            session,
            job,
            "The render stopped: its worker stopped reporting and the attempts "
            "are spent.",
        )
    await session.flush()
    return job.status
