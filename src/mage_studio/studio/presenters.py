"""Turn studio job rows and watermarks into response bodies."""

from __future__ import annotations

from fastapi import Request

from mage_studio.jobs.models import VideoJob
from mage_studio.jobs.presenters import JobPresenter, unix
from mage_studio.render.studio.renditions import RENDITION_NAMES
from mage_studio.studio.models import StudioWatermark
from mage_studio.studio.schemas import StudioJobRead, StudioUrls, WatermarkRead
from mage_studio.studio.service import operation_of, options_of, source_ids_of


class StudioPresenter:
    """Response builder for one request: signed links and queue placement."""

    def __init__(self, request: Request) -> None:
        self.jobs = JobPresenter(request)

    def urls(self, job: VideoJob) -> StudioUrls:
        link = self.jobs.link
        renditions = job.renditions or {}
        return StudioUrls(
            video=link(job.video_key),
            thumbnail=link(job.thumbnail_key),
            preview_img=link(job.preview_img_key),
            preview_animation=link(job.preview_animation_key),
            last_frame=link(job.last_frame_key),
            soundtrack=link(job.soundtrack_key),
            **{name: link(renditions.get(name)) for name in RENDITION_NAMES},
        )

    async def job(self, job: VideoJob) -> StudioJobRead:
        queue = await self.jobs.queue(job)
        rate = job.fps
        return StudioJobRead(
            id=job.id,
            status=job.status,
            operation=operation_of(job),
            source_job_ids=source_ids_of(job),
            options=options_of(job),
            progress=job.progress,
            estimated_time_left=self.jobs.time_left(job, queue),
            job_time=job.job_time,
            queued_at=unix(job.queued_at),
            queue=queue,
            retries=job.retries,
            width=job.width,
            height=job.height,
            fps=None if rate is None else float(rate),
            frame_count=job.frame_count,
            length=job.length,
            credits_reserved=job.credits_reserved,
            cancel_requested=job.cancel_requested,
            error_message=job.error_message,
            urls=self.urls(job),
            created_at=job.created_at,
            updated_at=job.updated_at,
            finished_at=job.finished_at,
        )

    def watermark(self, watermark: StudioWatermark) -> WatermarkRead:
        url = self.jobs.link(watermark.key)
        assert url is not None
        return WatermarkRead(
            width=watermark.width,
            height=watermark.height,
            has_alpha=watermark.has_alpha,
            size=watermark.size,
            url=url,
            created_at=watermark.created_at,
            updated_at=watermark.updated_at,
        )
