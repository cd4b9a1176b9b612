"""Content oversight: administrators cancel and delete any user's video jobs.

The jobs service's own rules apply (which statuses may be cancelled or deleted, the
credit hold, the files), run on behalf of the job's owner; the admin's part is the
audit entry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.audit import record_audit
from mage_studio.core.storage import Storage
from mage_studio.errors import NotFound
from mage_studio.jobs import repository as jobs_repository
from mage_studio.jobs import service as jobs
from mage_studio.jobs.models import VideoJob
from mage_studio.users.models import User


async def _job_and_owner(session: AsyncSession, job_id: int) -> tuple[VideoJob, User]:
    job = await jobs_repository.get_job(session, job_id)
    owner = None if job is None else await session.get(User, job.user_id)
    if job is None or owner is None:
        raise NotFound("Video job not found.")
    return job, owner


def _state(job: VideoJob) -> dict[str, Any]:
    return {"status": job.status, "cancel_requested": job.cancel_requested}


async def cancel_job(session: AsyncSession, admin: User, job_id: int) -> VideoJob:
    """Cancel any user's job as its owner could, and audit the change.

    Pending, queued and previewed jobs are cancelled at once. A rendering job gets
    `cancel_requested` and its worker stops before the next frame. Finished, failed
    and cancelled jobs are 409. Asking again for a job already flagged changes
    nothing and writes no audit entry.
    """
    job, owner = await _job_and_owner(session, job_id)
    before = _state(job)

    job = await jobs.cancel(session, owner, job_id)
    after = _state(job)
    if after != before:
        await record_audit(
            session, admin, "video_job.cancelled", "video_job", job.id, before, after
        )
    return job


async def delete_job(
    session: AsyncSession, storage: Storage, admin: User, job_id: int
) -> None:
    """Delete any user's job and, once committed, its files; 409 while rendering."""
    job, owner = await _job_and_owner(session, job_id)
    before = {**_state(job), "user_id": job.user_id, "generator": job.generator}

    await jobs.delete_job(session, storage, owner, job_id)
    await record_audit(
        session, admin, "video_job.deleted", "video_job", job_id, before, None
    )
