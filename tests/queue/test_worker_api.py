"""Heartbeats, preview frames, results and cancels over the worker API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import utcnow
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue.models import RenderRun, RenderTiming, Worker
from mage_studio.queue.timing import timing_key
from tests.queue.conftest import ClaimNewJob, WorkerJobApi
from tests.queue.factories import reload, stored_files


async def test_heartbeat_extends_lease_and_records_progress(
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    first_lease = claimed_job.lease_expires_at
    assert first_lease is not None

    response = await worker_api.post(
        claimed_job.id,
        "heartbeat",
        json={
            "attempt": 1,
            "progress": 40,
            "frames_done": 4,
            "frames_total": 10,
            "eta_seconds": 12.5,
            "applied": {"3": {"strength": 0.5}, "4": {"strength": 0.55}},
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cancel_requested"] is False
    assert body["steering"] is None
    await reload(session, claimed_job)
    assert claimed_job.progress == 40
    assert claimed_job.frames_done == 4
    assert claimed_job.estimated_time_left == 12.5
    assert claimed_job.lease_expires_at is not None
    assert claimed_job.lease_expires_at >= first_lease
    run = await session.scalar(
        select(RenderRun).where(RenderRun.job_id == claimed_job.id)
    )
    assert run is not None
    assert run.applied_steering == {"3": {"strength": 0.5}, "4": {"strength": 0.55}}


async def test_heartbeat_returns_current_steering(
    session: AsyncSession,
    claim_new_job: ClaimNewJob,
    worker_api: WorkerJobApi,
) -> None:
    job = await claim_new_job(generator="deforum")
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == job.id)
        .values(steering={"translation_z": 0.3, "cfg": 9, "use_live_cfg": True})
    )
    await session.commit()

    response = await worker_api.post(
        job.id,
        "heartbeat",
        json={"attempt": 1},
    )

    steering = response.json()["steering"]
    assert steering["translation_z"] == 0.3
    assert steering["cfg"] == 9
    assert steering["use_live_cfg"] is True


async def test_cancel_is_seen_at_next_heartbeat(
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == claimed_job.id)
        .values(cancel_requested=True)
    )
    await session.commit()

    heartbeat = await worker_api.post(
        claimed_job.id,
        "heartbeat",
        json={"attempt": 1, "frames_done": 3},
    )
    assert heartbeat.status_code == 200
    assert heartbeat.json()["cancel_requested"] is True

    stopped = await worker_api.post(
        claimed_job.id,
        "fail",
        json={"attempt": 1, "cancelled": True, "frames_rendered": 3},
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == JobStatus.CANCELLED.value
    await reload(session, claimed_job)
    assert claimed_job.status == JobStatus.CANCELLED.value
    assert claimed_job.progress == 0
    assert claimed_job.lease_owner is None
    run = await session.scalar(
        select(RenderRun).where(RenderRun.job_id == claimed_job.id)
    )
    assert run is not None
    assert run.outcome == "cancelled"
    assert run.frames_done == 3


async def test_job_cancelled_elsewhere_tells_worker_to_stop(
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == claimed_job.id)
        .values(status=JobStatus.CANCELLED.value, cancel_requested=True)
    )
    await session.commit()

    heartbeat = await worker_api.post(
        claimed_job.id,
        "heartbeat",
        json={"attempt": 1},
    )
    stopped = await worker_api.post(
        claimed_job.id,
        "fail",
        json={"attempt": 1, "cancelled": True, "frames_rendered": 2},
    )

    assert heartbeat.status_code == 200
    assert heartbeat.json()["cancel_requested"] is True
    assert stopped.status_code == 200
    assert stopped.json()["status"] == JobStatus.CANCELLED.value


async def test_full_result_finishes_job_and_records_timing(
    app: FastAPI,
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    metadata = {"timings": {"seconds_per_frame": 1.5}, "ignored_settings": ["x"]}
    await _started_ago(session, claimed_job, seconds=60)

    response = await worker_api.post(
        claimed_job.id,
        "result",
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
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"job_id": claimed_job.id, "status": "finished"}
    await reload(session, claimed_job)
    assert claimed_job.status == JobStatus.FINISHED.value
    assert claimed_job.progress == 100
    assert claimed_job.lease_owner is None
    assert claimed_job.video_key
    assert claimed_job.video_key.startswith(f"renders/{claimed_job.id}/")
    assert claimed_job.video_key.endswith(".mp4")
    assert await app.state.storage.read(claimed_job.video_key) == b"mp4 bytes"
    assert claimed_job.last_frame_key
    assert claimed_job.thumbnail_key
    timing = await session.get(RenderTiming, timing_key("vid2vid", None, 512, 512))
    assert timing is not None
    assert timing.seconds_per_frame == 1.5
    assert timing.samples == 1
    worker_row = await session.scalar(select(Worker).where(Worker.name == "gpu-01"))
    assert worker_row is not None
    assert worker_row.current_job_id is None
    run = await session.scalar(
        select(RenderRun).where(RenderRun.job_id == claimed_job.id)
    )
    assert run is not None
    assert run.outcome == "finished"
    assert run.result_metadata is not None
    assert run.result_metadata["ignored_settings"] == ["x"]


async def _started_ago(session: AsyncSession, job: VideoJob, seconds: float) -> None:
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == job.id)
        .values(started_at=utcnow() - timedelta(seconds=seconds))
    )
    await session.commit()


async def test_reported_timing_capped_at_measured_time(
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    await _started_ago(session, claimed_job, seconds=20)
    metadata = {"timings": {"seconds_per_frame": 1e300}}

    response = await worker_api.post(
        claimed_job.id,
        "result",
        data={
            "attempt": "1",
            "frames_rendered": "10",
            "metadata": json.dumps(metadata),
        },
        files={"video": ("out.mp4", b"mp4 bytes", "video/mp4")},
    )

    assert response.status_code == 200, response.text
    timing = await session.get(RenderTiming, timing_key("vid2vid", None, 512, 512))
    assert timing is not None
    # At least 20 seconds from claim to result, for 10 frames.
    assert timing.seconds_per_frame >= 2.0
    assert timing.seconds_per_frame < 1e300


async def test_preview_result_moves_job_to_preview(
    session: AsyncSession,
    claim_new_job: ClaimNewJob,
    worker_api: WorkerJobApi,
) -> None:
    job = await claim_new_job(
        queue_name="critical",
        render_kind="preview",
        generation_parameters={"frameCount": 1},
    )

    response = await worker_api.post(
        job.id,
        "result",
        data={"attempt": "1", "frames_rendered": "1"},
        files={"preview_img": ("p.webp", b"webp bytes", "image/webp")},
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
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    files_before = stored_files(app)

    response = await worker_api.post(
        claimed_job.id,
        "result",
        data={"attempt": "1", "frames_rendered": "10"},
        files={"thumbnail": ("t.jpg", b"jpeg", "image/jpeg")},
    )

    assert response.status_code == 422
    assert "video" in response.json()["error"]["validator"]
    await reload(session, claimed_job)
    assert claimed_job.status == JobStatus.PROCESSING.value
    assert stored_files(app) == files_before


async def test_result_with_invalid_metadata_is_rejected(
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    response = await worker_api.post(
        claimed_job.id,
        "result",
        data={"attempt": "1", "metadata": "{not json"},
        files={"video": ("out.mp4", b"mp4", "video/mp4")},
    )

    assert response.status_code == 422
    assert "metadata" in response.json()["error"]["validator"]


async def test_preview_frame_is_stored_and_published(
    app: FastAPI,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    events: list[tuple[int, dict[str, object]]] = []

    async def publisher(_: FastAPI, job_id: int, event: dict[str, object]) -> None:
        events.append((job_id, event))

    app.state.job_event_publisher = publisher

    response = await worker_api.post(
        claimed_job.id,
        "frames",
        data={"attempt": "1", "index": "5"},
        files={"frame": ("f.webp", b"webp frame", "image/webp")},
    )

    assert response.status_code == 200, response.text
    stored = await app.state.storage.read(f"frames/{claimed_job.id}/latest.webp")
    assert stored == b"webp frame"
    assert len(events) == 1
    assert events[0][0] == claimed_job.id
    assert events[0][1]["type"] == "frame"
    assert events[0][1]["index"] == 5


async def test_preview_frame_of_wrong_type_is_rejected(
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    response = await worker_api.post(
        claimed_job.id,
        "frames",
        data={"attempt": "1", "index": "0"},
        files={"frame": ("f.gif", b"GIF89a", "image/gif")},
    )

    assert response.status_code == 415


async def test_heartbeat_for_unknown_job_is_not_found(
    worker_api: WorkerJobApi,
) -> None:
    response = await worker_api.post(999999, "heartbeat", json={"attempt": 1})

    assert response.status_code == 404


@pytest.mark.parametrize("retryable", [False, True], ids=["error", "retry"])
async def test_failure_removes_live_frame(
    app: FastAPI,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
    retryable: bool,
) -> None:
    uploaded = await worker_api.post(
        claimed_job.id,
        "frames",
        data={"attempt": "1", "index": "2"},
        files={"frame": ("f.png", b"png frame", "image/png")},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert f"frames/{claimed_job.id}/latest.png" in stored_files(app)

    response = await worker_api.post(
        claimed_job.id,
        "fail",
        json={"attempt": 1, "error": "out of memory", "retryable": retryable},
    )

    assert response.status_code == 200, response.text
    assert f"frames/{claimed_job.id}/latest.png" not in stored_files(app)
