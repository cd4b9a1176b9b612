"""Leases: expiry re-queues at the original position, stale attempts are fenced."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import utcnow
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue.models import RenderRun, Worker
from mage_studio.queue.service import reap_expired_leases
from mage_studio.users.models import User
from tests.queue.conftest import WorkerCredentials
from tests.queue.factories import claim, create_jobs, reload, stored_files


async def _expire(session: AsyncSession, job_id: int) -> None:
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == job_id)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()


async def test_expired_lease_requeues_at_original_position(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    first, _, _ = await create_jobs(session, owner, ["low", "low", "low"])
    await session.commit()
    original_queued_at = first.queued_at
    claimed = await claim(app, worker.id, "gpu-old")
    assert claimed is not None
    assert claimed.job_id == first.id
    await _expire(session, first.id)

    reaped = await reap_expired_leases(app)

    assert reaped == 1
    await reload(session, first)
    assert first.status == JobStatus.APPROVED.value
    assert first.retries == 1
    assert first.queued_at == original_queued_at
    assert first.lease_owner is None
    again = await claim(app, worker.id, "gpu-new")
    assert again is not None
    assert again.job_id == first.id
    assert again.attempt == 2
    run = await session.scalar(
        select(RenderRun).where(RenderRun.job_id == first.id, RenderRun.attempt == 1)
    )
    assert run is not None
    assert run.outcome == "expired"
    old_worker = await session.scalar(select(Worker).where(Worker.name == "gpu-old"))
    assert old_worker is not None
    assert old_worker.current_job_id is None


async def test_reaper_leaves_live_leases_alone(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    (job,) = await create_jobs(session, owner, ["low"])
    await session.commit()
    await claim(app, worker.id)

    assert await reap_expired_leases(app) == 0

    await reload(session, job)
    assert job.status == JobStatus.PROCESSING.value


async def test_stale_worker_is_fenced_after_requeue(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    (job,) = await create_jobs(session, owner, ["low"])
    await session.commit()
    await claim(app, worker.id, "gpu-old")
    await _expire(session, job.id)
    await reap_expired_leases(app)
    fresh = await claim(app, worker.id, "gpu-new")
    files_before = stored_files(app)
    assert fresh is not None
    assert fresh.attempt == 2
    base = f"/api/workers/jobs/{job.id}"

    heartbeat = await client.post(
        f"{base}/heartbeat", json={"attempt": 1}, headers=worker.headers
    )
    result = await client.post(
        f"{base}/result",
        data={"attempt": "1", "frames_rendered": "10"},
        files={"video": ("out.mp4", b"stale video", "video/mp4")},
        headers=worker.headers,
    )
    failure = await client.post(
        f"{base}/fail", json={"attempt": 1, "retryable": True}, headers=worker.headers
    )
    frame = await client.post(
        f"{base}/frames",
        data={"attempt": "1", "index": "0"},
        files={"frame": ("f.jpg", b"jpeg", "image/jpeg")},
        headers=worker.headers,
    )

    assert heartbeat.status_code == 409
    assert result.status_code == 409
    assert failure.status_code == 409
    assert frame.status_code == 409
    await reload(session, job)
    assert job.status == JobStatus.PROCESSING.value
    assert job.attempt == 2
    assert job.video_key is None
    assert stored_files(app) == files_before
    current = await client.post(
        f"{base}/heartbeat", json={"attempt": 2}, headers=worker.headers
    )
    assert current.status_code == 200


async def test_attempts_spent_move_job_to_error(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    app.state.settings.max_attempts = 2
    (job,) = await create_jobs(session, owner, ["low"])
    await session.commit()

    for _ in range(2):
        spec = await claim(app, worker.id)
        assert spec is not None
        assert spec.job_id == job.id
        await _expire(session, job.id)
        await reap_expired_leases(app)

    await reload(session, job)
    assert job.status == JobStatus.ERROR.value
    assert job.attempt == 2
    assert job.error_message
    assert await claim(app, worker.id) is None


@pytest.mark.parametrize(
    ("retryable", "max_attempts", "expected"),
    [
        (True, 3, JobStatus.APPROVED.value),
        (True, 1, JobStatus.ERROR.value),
        (False, 3, JobStatus.ERROR.value),
    ],
)
async def test_failure_retries_until_attempts_spent(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
    retryable: bool,
    max_attempts: int,
    expected: str,
) -> None:
    app.state.settings.max_attempts = max_attempts
    first, _ = await create_jobs(session, owner, ["low", "low"])
    await session.commit()
    spec = await claim(app, worker.id)
    assert spec is not None
    assert spec.job_id == first.id

    response = await client.post(
        f"/api/workers/jobs/{first.id}/fail",
        json={"attempt": 1, "retryable": retryable, "error": "CUDA out of memory"},
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"job_id": first.id, "status": expected}
    await reload(session, first)
    assert first.status == expected
    if expected == JobStatus.APPROVED.value:
        again = await claim(app, worker.id)
        assert again is not None
        assert again.job_id == first.id
    else:
        assert first.error_message == "CUDA out of memory"


async def test_lease_expiry_of_cancel_requested_job_cancels_it(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    (job,) = await create_jobs(session, owner, ["low"])
    await session.commit()
    await claim(app, worker.id)
    await session.execute(
        update(VideoJob).where(VideoJob.id == job.id).values(cancel_requested=True)
    )
    await _expire(session, job.id)

    await reap_expired_leases(app)

    await reload(session, job)
    assert job.status == JobStatus.CANCELLED.value
    assert job.cancel_requested is False


async def test_expired_lease_removes_live_frame(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    (job,) = await create_jobs(session, owner, ["low"])
    await session.commit()
    claimed = await claim(app, worker.id, "gpu-gone")
    assert claimed is not None
    key = f"frames/{job.id}/latest.jpg"
    await app.state.storage.save_bytes(key, b"jpeg frame")
    await _expire(session, job.id)

    reaped = await reap_expired_leases(app)

    assert reaped == 1
    assert key not in stored_files(app)
