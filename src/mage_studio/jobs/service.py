"""Uploads, cancellation, deletion and soundtracks of video jobs."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.routing import after_commit
from mage_studio.core.storage import Storage, new_key
from mage_studio.errors import Conflict, InvalidTransition, NotFound
from mage_studio.jobs import charges, repository
from mage_studio.jobs.media import (
    extension_for,
    fraction_parts,
    probe_soundtrack,
    probe_source,
)
from mage_studio.jobs.models import Generator, JobStatus, VideoJob
from mage_studio.jobs.params import invalid
from mage_studio.jobs.transitions import (
    APPROVED,
    CANCEL_NOW_FROM,
    DELETE_FROM,
    FINISHED,
    PROCESSING,
    RaceLost,
    cancelled_values,
    compare_and_set,
    require_status,
)
from mage_studio.jobs.uploads import MultipartForm, UploadedFile
from mage_studio.render.errors import MediaError
from mage_studio.render.media.encode import remux_soundtrack
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

_RACE_RETRIES = 3


async def get_owned_job(
    session: AsyncSession, user: User, job_id: int, *, for_update: bool = False
) -> VideoJob:
    """Return the caller's job, or raise 404 (also for other users' jobs)."""
    job = await repository.get_user_job(session, user, job_id, for_update=for_update)
    if job is None:
        raise NotFound("Video job not found.")
    return job


async def _get_job_of(
    session: AsyncSession, user: User, job_id: int, any_owner: bool
) -> VideoJob:
    if not any_owner:
        return await get_owned_job(session, user, job_id)
    job = await repository.get_job(session, job_id)
    if job is None:
        raise NotFound("Video job not found.")
    return job


async def get_visible_job(session: AsyncSession, user: User, job_id: int) -> VideoJob:
    """Return the job for its owner or an admin, or raise 404."""
    job = await repository.get_job(session, job_id)
    if job is None or (job.user_id != user.id and not user.is_admin):
        raise NotFound("Video job not found.")
    return job


async def _publish(
    storage: Storage, prefix: str, upload: UploadedFile, mime: str
) -> str:
    key = new_key(prefix, extension_for(mime))
    await storage.put_staged(key, upload.staged, content_type=mime)
    return key


def _generator(form: MultipartForm) -> str:
    value = form.fields.get("type", "").strip()
    if not value:
        raise invalid({"type": ["This field is required."]})
    if value not in (Generator.VID2VID.value, Generator.DEFORUM.value):
        raise invalid({"type": ["type must be vid2vid or deforum."]})
    return value


def _required_file(form: MultipartForm, name: str) -> UploadedFile:
    upload = form.files.get(name)
    if upload is None:
        message = (
            f"{name} must be a file."
            if name in form.fields
            else "This field is required."
        )
        raise invalid({name: [message]})
    return upload


async def upload(
    session: AsyncSession, storage: Storage, user: User, form: MultipartForm
) -> VideoJob:
    """Create a pending job from a staged upload after decoding every file.

    Nothing is stored unless the source (and the soundtrack, when given) decode; the
    caller discards the staged files of a rejected form.
    """
    generator = _generator(form)
    attachment = _required_file(form, "attachment")
    info = await probe_source(attachment.staged.path)
    soundtrack = form.files.get("soundtrack")
    audio = None
    if soundtrack is not None:
        audio = await probe_soundtrack(soundtrack.staged.path)

    published: list[str] = []
    try:
        source_key = await _publish(storage, "uploads", attachment, info.mimetype)
        published.append(source_key)
        soundtrack_key = None
        if soundtrack is not None and audio is not None:
            soundtrack_key = await _publish(
                storage, "soundtracks", soundtrack, audio.mimetype
            )
            published.append(soundtrack_key)
        fps_num, fps_den = fraction_parts(info.fps)
        job = VideoJob(
            user_id=user.id,
            generator=generator,
            status=JobStatus.PENDING.value,
            source_kind=info.kind,
            source_key=source_key,
            source_width=info.width,
            source_height=info.height,
            source_rotation=info.rotation,
            source_fps_num=fps_num,
            source_fps_den=fps_den,
            source_frame_count=info.frame_count,
            source_duration=info.duration,
            has_audio=info.has_audio,
            size=info.size_bytes,
            codec=info.video_codec,
            audio_codec=info.audio_codec,
            bitrate=info.bit_rate,
            mimetype=info.mimetype,
            original_filename=attachment.filename,
            soundtrack_key=soundtrack_key,
            width=info.width,
            height=info.height,
            fps_num=fps_num,
            fps_den=fps_den,
            frame_count=info.frame_count,
            length=info.duration,
        )
        session.add(job)
        await session.flush()
    except BaseException:
        await storage.delete_many(list(published))
        raise
    log.info(
        "job_uploaded",
        job_id=job.id,
        user_id=user.id,
        kind=info.kind,
        size=info.size_bytes,
        soundtrack=soundtrack_key is not None,
    )
    return job


async def cancel(
    session: AsyncSession, user: User, job_id: int, *, any_owner: bool = False
) -> VideoJob:
    """Cancel a job at once while pending, queued or previewed, else request it.

    A processing job keeps its status with `cancel_requested` set. Its worker stops
    before the next frame, and the queue domain then settles the job and credits.
    `any_owner` lets administrators cancel other users' jobs.
    """
    for _ in range(_RACE_RETRIES):
        job = await _get_job_of(session, user, job_id, any_owner)
        try:
            if job.status == PROCESSING:
                if not job.cancel_requested:
                    await compare_and_set(session, job, cancel_requested=True)
                    log.info("job_cancel_requested", job_id=job.id)
                return job
            require_status(job, CANCEL_NOW_FROM, "cancel")
            was_queued = job.status == APPROVED
            await compare_and_set(session, job, **cancelled_values())
        except RaceLost:
            continue
        if was_queued:
            await charges.release_render(session, job)
        log.info("job_cancelled", job_id=job.id, by_user_id=user.id)
        return job
    raise Conflict("The job is changing too quickly to cancel; try again.")


async def delete_job(
    session: AsyncSession,
    storage: Storage,
    user: User,
    job_id: int,
    *,
    any_owner: bool = False,
) -> None:
    """Delete a job and, once committed, its files (not while rendering).

    Only the caller's own job, unless `any_owner` (administrators).
    """
    job = await _get_job_of(session, user, job_id, any_owner)
    require_status(job, DELETE_FROM, "delete")
    keys = [
        job.source_key,
        job.soundtrack_key,
        job.video_key,
        job.preview_img_key,
        job.preview_animation_key,
        job.thumbnail_key,
        job.last_frame_key,
        *(job.renditions or {}).values(),
    ]
    if job.status == APPROVED:
        await charges.release_render(session, job)
    result = await session.execute(
        delete(VideoJob)
        .where(
            VideoJob.id == job.id,
            VideoJob.status == job.status,
            VideoJob.attempt == job.attempt,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise InvalidTransition("The job changed meanwhile; reload it and try again.")
    session.expunge(job)

    async def remove_files() -> None:
        await storage.delete_many(list(keys))

    after_commit(session, remove_files)
    log.info("job_deleted", job_id=job_id, by_user_id=user.id)


async def replace_soundtrack(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    user: User,
    job_id: int,
    form: MultipartForm,
) -> VideoJob:
    """Store a new soundtrack; for a finished job, remux it into the video.

    The video is not re-encoded: its audio is replaced by the soundtrack, cut to the
    video's length. Rendering jobs are refused (409): their worker already has the
    old soundtrack.
    """
    job = await get_owned_job(session, user, job_id)
    if job.status == PROCESSING:
        raise InvalidTransition(
            "The job is rendering; add the soundtrack once it has finished."
        )
    upload_file = _required_file(form, "soundtrack")
    audio = await probe_soundtrack(upload_file.staged.path)

    new_keys: list[str] = []
    try:
        soundtrack_key = await _publish(
            storage, "soundtracks", upload_file, audio.mimetype
        )
        new_keys.append(soundtrack_key)
        values: dict[str, object] = {"soundtrack_key": soundtrack_key}
        if job.status == FINISHED and job.video_key:
            video_key = await _remux(storage, job.video_key, soundtrack_key)
            new_keys.append(video_key)
            values["video_key"] = video_key
        old_keys = [
            job.soundtrack_key,
            job.video_key if "video_key" in values else None,
        ]
        await compare_and_set(session, job, **values)
    except RaceLost as exc:
        await storage.delete_many(list(new_keys))
        raise InvalidTransition("The job changed meanwhile; try again.") from exc
    except BaseException:
        await storage.delete_many(list(new_keys))
        raise

    async def remove_old() -> None:
        await storage.delete_many(old_keys)

    after_commit(session, remove_old)
    log.info("job_soundtrack_replaced", job_id=job.id, remuxed="video_key" in values)
    return job


async def _remux(storage: Storage, video_key: str, soundtrack_key: str) -> str:
    """Write a copy of the video with the soundtrack as its audio; return its key."""
    async with (
        storage.scratch_file(".mp4") as output,
        storage.local_copy(video_key) as video,
        storage.local_copy(soundtrack_key) as soundtrack,
    ):
        try:
            await asyncio.to_thread(remux_soundtrack, video, soundtrack, output)
        except MediaError as exc:
            raise invalid({"soundtrack": [exc.message]}) from exc
        key = new_key("videos", "mp4")
        await storage.save_file(key, output, content_type="video/mp4")
    return key
