"""Turn job rows into the response bodies that existing clients read.

`queued_at` is unix seconds and `fps` a number that keeps fractional rates. File
columns become absolute signed links. `queue` comes from the snapshot that the queue
domain publishes as `app.state.queue_snapshot`; it is `[]` when the job is not queued
or no snapshot exists.
"""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

import structlog
from fastapi import Request

from mage_studio.core.storage import Storage
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.jobs.schemas import (
    JobDetail,
    JobRead,
    JobStatusRead,
    JobSummary,
    JobUrls,
    Queue,
    QueuePlacement,
    SourceRead,
)

log = structlog.get_logger(__name__)


def unix(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _fps(job: VideoJob) -> float | None:
    rate = job.fps
    return None if rate is None else float(rate)


class JobPresenter:
    """Response builder for one request (storage, link lifetime, queue snapshot)."""

    def __init__(self, request: Request) -> None:
        state = request.app.state
        self.storage: Storage = state.storage
        self.ttl: int = state.settings.download_url_ttl_seconds
        self.snapshot = getattr(state, "queue_snapshot", None)

    def link(self, key: str | None) -> str | None:
        return None if key is None else self.storage.signed_url(key, self.ttl)

    def urls(self, job: VideoJob) -> JobUrls:
        renditions = job.renditions or {}
        return JobUrls(
            original=self.link(job.source_key),
            preview_img=self.link(job.preview_img_key),
            preview_animation=self.link(job.preview_animation_key),
            video=self.link(job.video_key),
            thumbnail=self.link(job.thumbnail_key),
            last_frame=self.link(job.last_frame_key),
            soundtrack=self.link(job.soundtrack_key),
            thumbnail_square=self.link(renditions.get("thumbnail_square")),
            backdrop=self.link(renditions.get("backdrop")),
            poster=self.link(renditions.get("poster")),
            animated_preview=self.link(renditions.get("animated_preview")),
        )

    async def queue(self, job: VideoJob) -> Queue:
        """Return the job's placement for approved jobs, else `[]`."""
        if job.status != JobStatus.APPROVED.value or self.snapshot is None:
            return []
        try:
            placement: Any = self.snapshot.placement(job.id)
            if inspect.isawaitable(placement):
                placement = await placement
            if not placement:
                return []
            return QueuePlacement.model_validate(placement)
        except Exception as exc:
            # The placement is advisory; a broken snapshot must not fail a status call.
            log.warning("queue_placement_failed", job_id=job.id, error=repr(exc))
            return []

    def time_left(self, job: VideoJob, queue: Queue) -> float:
        if isinstance(queue, QueuePlacement):
            return queue.estimated_finish_in
        return job.estimated_time_left

    def columns(self, job: VideoJob) -> dict[str, Any]:
        return {
            "id": job.id,
            "user_id": job.user_id,
            "model_id": job.model_id,
            "generator": job.generator,
            "status": job.status,
            "progress": job.progress,
            "job_time": job.job_time,
            "estimated_time_left": job.estimated_time_left,
            "retries": job.retries,
            "queued_at": unix(job.queued_at),
            "prompt": job.prompt,
            "negative_prompt": job.negative_prompt,
            "cfg_scale": job.cfg_scale,
            "steps": job.steps,
            "denoising": job.denoising,
            "seed": job.seed,
            "width": job.width,
            "height": job.height,
            "fps": _fps(job),
            "fps_fraction": None if job.fps is None else _fraction_text(job),
            "frame_count": job.frame_count,
            "length": job.length,
            "size": job.size,
            "codec": job.codec,
            "audio_codec": job.audio_codec,
            "bitrate": job.bitrate,
            "mimetype": job.mimetype,
            "original_filename": job.original_filename,
            "original_url": self.link(job.source_key),
            "url": self.link(job.video_key),
            "preview_img": self.link(job.preview_img_key),
            "preview_animation": self.link(job.preview_animation_key),
            "thumbnail": self.link(job.thumbnail_key),
            "soundtrack_url": self.link(job.soundtrack_key),
            "controlnet": job.controlnet,
            "generation_parameters": job.generation_parameters,
            "revision": job.revision,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
        }

    def row(self, job: VideoJob) -> JobRead:
        return JobRead.model_validate(self.columns(job))

    async def detail(self, job: VideoJob, preset_slug: str | None) -> JobDetail:
        queue = await self.queue(job)
        source_rate = job.source_fps
        return JobDetail.model_validate(
            {
                **self.columns(job),
                "estimated_time_left": self.time_left(job, queue),
                "urls": self.urls(job),
                "queue": queue,
                "render_kind": job.render_kind,
                "render_frames": job.render_frames,
                "frames_done": job.frames_done,
                "cancel_requested": job.cancel_requested,
                "error_message": job.error_message,
                "extend_from_job_id": job.extend_from_job_id,
                "preset": preset_slug,
                "source": SourceRead(
                    kind=job.source_kind,
                    width=job.source_width,
                    height=job.source_height,
                    rotation=job.source_rotation,
                    fps=None if source_rate is None else float(source_rate),
                    frame_count=job.source_frame_count,
                    duration=job.source_duration,
                    has_audio=job.has_audio,
                ),
                "deforum_settings": job.deforum_settings,
                "started_at": job.started_at,
                "finished_at": job.finished_at,
            }
        )

    async def summary(self, job: VideoJob) -> JobSummary:
        queue = await self.queue(job)
        return JobSummary(
            id=job.id,
            status=job.status,
            progress=job.progress,
            estimated_time_left=self.time_left(job, queue),
            job_time=job.job_time,
            queued_at=unix(job.queued_at),
            generator=job.generator,
            model_id=job.model_id,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            frame_count=job.frame_count,
            queue=queue,
        )

    async def status(self, job: VideoJob) -> JobStatusRead:
        queue = await self.queue(job)
        return JobStatusRead(
            id=job.id,
            status=job.status,
            progress=job.progress,
            estimated_time_left=self.time_left(job, queue),
            job_time=job.job_time,
            queued_at=unix(job.queued_at),
            queue=queue,
            generator=job.generator,
            model_id=job.model_id,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            cfg_scale=job.cfg_scale,
            seed=job.seed,
            denoising=job.denoising,
            fps=_fps(job),
            frame_count=job.frame_count,
            length=job.length,
            width=job.width,
            height=job.height,
            generation_parameters=job.generation_parameters,
            urls=self.urls(job),
            cancel_requested=job.cancel_requested,
            error_message=job.error_message,
        )


def _fraction_text(job: VideoJob) -> str | None:
    rate = job.fps
    if rate is None:
        return None
    return f"{rate.numerator}/{rate.denominator}"
