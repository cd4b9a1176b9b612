"""The `studio` part of a claimed job spec: what a worker needs to run the job."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from mage_studio.render.studio.spec import StudioInput, StudioTask
from mage_studio.studio import repository
from mage_studio.studio.service import operation_of, options_of, source_ids_of

# Signed URLs in a task outlive a long job's download retries.
TASK_URL_TTL_SECONDS = 6 * 3600


class SignsUrls(Protocol):
    def signed_url(self, key: str, ttl: int) -> str: ...


async def build_studio_task(
    session: AsyncSession, storage: SignsUrls, job: VideoJob
) -> dict[str, Any]:
    """Return the studio task of a claimed studio job, with signed media URLs.

    A source job deleted since the studio job was queued is sent without a video
    URL, and a watermark deleted meanwhile without a watermark URL: the worker
    then fails the job with a message saying which is missing.
    """

    def url(key: str | None) -> str | None:
        return storage.signed_url(key, TASK_URL_TTL_SECONDS) if key else None

    operation = operation_of(job)
    source_ids = source_ids_of(job)
    sources = await repository.user_jobs(session, job.user_id, source_ids)
    inputs = []
    for index, source_id in enumerate(source_ids):
        source = sources.get(source_id)
        with_source = operation == "composition" and index == 0
        inputs.append(
            StudioInput(
                job_id=source_id,
                video_url=url(source.video_key if source else None),
                source_url=url(source.source_key if source and with_source else None),
            )
        )
    options = options_of(job)
    watermark_url = None
    if options.get("watermark") is not None:
        watermark = await repository.watermark_of(session, job.user_id)
        watermark_url = url(watermark.key if watermark else None)
    task = StudioTask.model_validate(
        {
            "operation": operation,
            "options": options,
            "inputs": inputs,
            "soundtrack_url": url(job.soundtrack_key),
            "watermark_url": watermark_url,
        }
    )
    return task.model_dump(mode="json")
