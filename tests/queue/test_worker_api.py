"""Heartbeats, preview frames, results and cancels over the worker API."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue.models import RenderRun, RenderTiming, Worker
from mage_studio.queue.timing import timing_key
from mage_studio.users.models import User
from tests.queue.conftest import WorkerCredentials
from tests.queue.factories import claim, create_job, reload, stored_files


async def _claimed_job(
    app: FastAPI,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
    **values: object,
) -> VideoJob:
    job = await create_job(session, owner, **values)
    await session.commit()
    spec = await claim(app, worker.id, "gpu-01")
    assert spec is not None
    assert spec.job_id == job.id
    await reload(session, job)
    return job


async def test_heartbeat_extends_lease_and_records_progress(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker)
    first_lease = job.lease_expires_at
    assert first_lease is not None

    response = await client.post(
        f"/api/workers/jobs/{job.id}/heartbeat",
        json={
            "attempt": 1,
            "progress": 40,
            "frames_done": 4,
            "frames_total": 10,
            "eta_seconds": 12.5,
            "applied": {"3": {"strength": 0.5}, "4": {"strength": 0.55}},
        },
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cancel_requested"] is False
    assert body["steering"] is None
    await reload(session, job)
    assert job.progress == 40
    assert job.frames_done == 4
    assert job.estimated_time_left == 12.5
    assert job.lease_expires_at is not None
    assert job.lease_expires_at >= first_lease
    run = await session.scalar(select(RenderRun).where(RenderRun.job_id == job.id))
    assert run is not None
    assert run.applied_steering == {"3": {"strength": 0.5}, "4": {"strength": 0.55}}


async def test_heartbeat_returns_current_steering(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker, generator="deforum")
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == job.id)
        .values(steering={"translation_z": 0.3, "cfg": 9, "use_live_cfg": True})
    )
    await session.commit()

    response = await client.post(
        f"/api/workers/jobs/{job.id}/heartbeat",
        json={"attempt": 1},
        headers=worker.headers,
    )

    steering = response.json()["steering"]
    assert steering["translation_z"] == 0.3
    assert steering["cfg"] == 9
    assert steering["use_live_cfg"] is True


async def test_cancel_is_seen_at_next_heartbeat(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker)
    await session.execute(
        update(VideoJob).where(VideoJob.id == job.id).values(cancel_requested=True)
    )
    await session.commit()

    heartbeat = await client.post(
        f"/api/workers/jobs/{job.id}/heartbeat",
        json={"attempt": 1, "frames_done": 3},
        headers=worker.headers,
    )
    assert heartbeat.status_code == 200
    assert heartbeat.json()["cancel_requested"] is True

    stopped = await client.post(
        f"/api/workers/jobs/{job.id}/fail",
        json={"attempt": 1, "cancelled": True, "frames_rendered": 3},
        headers=worker.headers,
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == JobStatus.CANCELLED.value
    await reload(session, job)
    assert job.status == JobStatus.CANCELLED.value
    assert job.progress == 0
    assert job.lease_owner is None
    run = await session.scalar(select(RenderRun).where(RenderRun.job_id == job.id))
    assert run is not None
    assert run.outcome == "cancelled"
    assert run.frames_done == 3


async def test_job_cancelled_elsewhere_tells_worker_to_stop(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker)
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == job.id)
        .values(status=JobStatus.CANCELLED.value, cancel_requested=True)
    )
    await session.commit()

    heartbeat = await client.post(
        f"/api/workers/jobs/{job.id}/heartbeat",
        json={"attempt": 1},
        headers=worker.headers,
    )
    stopped = await client.post(
        f"/api/workers/jobs/{job.id}/fail",
        json={"attempt": 1, "cancelled": True, "frames_rendered": 2},
        headers=worker.headers,
    )

    assert heartbeat.status_code == 200
    assert heartbeat.json()["cancel_requested"] is True
    assert stopped.status_code == 200
    assert stopped.json()["status"] == JobStatus.CANCELLED.value


async def test_full_result_finishes_job_and_records_timing(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker)
    metadata = {"timings": {"seconds_per_frame": 1.5}, "ignored_settings": ["x"]}

    response = await client.post(
        f"/api/workers/jobs/{job.id}/result",
        data={
            "attempt": "1",
            "frames_rendered": "10",
            "metadata": json.dumps(metadata),
        },
        files={
            "video": ("out.mp4", b"mp4 bytes", "video/mp4"),
            "thumbnail": ("t.jpg", b"jpeg bytes", "image/jpeg"),
            "last_frame": ("l.png", b"png bytes", "image/png"),
        },
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"job_id": job.id, "status": "finished"}
    await reload(session, job)
    assert job.status == JobStatus.FINISHED.value
    assert job.progress == 100
    assert job.lease_owner is None
    assert job.video_key
    assert job.video_key.startswith(f"renders/{job.id}/")
    assert job.video_key.endswith(".mp4")
    assert await app.state.storage.read(job.video_key) == b"mp4 bytes"
    assert job.last_frame_key
    assert job.thumbnail_key
    timing = await session.get(RenderTiming, timing_key("vid2vid", None, 512, 512))
    assert timing is not None
    assert timing.seconds_per_frame == 1.5
    assert timing.samples == 1
    worker_row = await session.scalar(select(Worker).where(Worker.name == "gpu-01"))
    assert worker_row is not None
    assert worker_row.current_job_id is None
    run = await session.scalar(select(RenderRun).where(RenderRun.job_id == job.id))
    assert run is not None
    assert run.outcome == "finished"
    assert run.result_metadata is not None
    assert run.result_metadata["ignored_settings"] == ["x"]


async def test_preview_result_moves_job_to_preview(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(
        app,
        session,
        owner,
        worker,
        queue_name="critical",
        render_kind="preview",
        generation_parameters={"frameCount": 1},
    )

    response = await client.post(
        f"/api/workers/jobs/{job.id}/result",
        data={"attempt": "1", "frames_rendered": "1"},
        files={"preview_img": ("p.webp", b"webp bytes", "image/webp")},
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "preview"
    await reload(session, job)
    assert job.status == JobStatus.PREVIEW.value
    assert job.preview_img_key
    assert job.preview_img_key.endswith(".webp")
    assert job.video_key is None


async def test_full_result_without_video_is_rejected(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker)
    files_before = stored_files(app)

    response = await client.post(
        f"/api/workers/jobs/{job.id}/result",
        data={"attempt": "1", "frames_rendered": "10"},
        files={"thumbnail": ("t.jpg", b"jpeg", "image/jpeg")},
        headers=worker.headers,
    )

    assert response.status_code == 422
    assert "video" in response.json()["error"]["validator"]
    await reload(session, job)
    assert job.status == JobStatus.PROCESSING.value
    assert stored_files(app) == files_before


async def test_result_with_invalid_metadata_is_rejected(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker)

    response = await client.post(
        f"/api/workers/jobs/{job.id}/result",
        data={"attempt": "1", "metadata": "{not json"},
        files={"video": ("out.mp4", b"mp4", "video/mp4")},
        headers=worker.headers,
    )

    assert response.status_code == 422
    assert "metadata" in response.json()["error"]["validator"]


async def test_preview_frame_is_stored_and_published(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker)
    events: list[tuple[int, dict[str, object]]] = []

    async def publisher(_: FastAPI, job_id: int, event: dict[str, object]) -> None:
        events.append((job_id, event))

    app.state.job_event_publisher = publisher

    response = await client.post(
        f"/api/workers/jobs/{job.id}/frames",
        data={"attempt": "1", "index": "5"},
        files={"frame": ("f.webp", b"webp frame", "image/webp")},
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    stored = await app.state.storage.read(f"frames/{job.id}/latest.webp")
    assert stored == b"webp frame"
    assert len(events) == 1
    assert events[0][0] == job.id
    assert events[0][1]["type"] == "frame"
    assert events[0][1]["index"] == 5


async def test_preview_frame_of_wrong_type_is_rejected(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await _claimed_job(app, session, owner, worker)

    response = await client.post(
        f"/api/workers/jobs/{job.id}/frames",
        data={"attempt": "1", "index": "0"},
        files={"frame": ("f.gif", b"GIF89a", "image/gif")},
        headers=worker.headers,
    )

    assert response.status_code == 415


async def test_heartbeat_for_unknown_job_is_not_found(
    client: httpx.AsyncClient, worker: WorkerCredentials
) -> None:
    response = await client.post(
        "/api/workers/jobs/999999/heartbeat",
        json={"attempt": 1},
        headers=worker.headers,
    )

    assert response.status_code == 404
