"""Worker API input the database cannot store: each gets 422 and changes nothing."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue.models import RenderRun
from tests.queue.conftest import WorkerJobApi
from tests.queue.factories import reload, stored_files


async def _applied_steering(session: AsyncSession, job: VideoJob) -> object:
    run = await session.scalar(select(RenderRun).where(RenderRun.job_id == job.id))
    assert run is not None
    applied = run.applied_steering
    await session.commit()
    return applied


@pytest.mark.parametrize(
    "counter", ["frames_done", "frames_total"], ids=["done", "total"]
)
async def test_heartbeat_counter_beyond_int32(
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
    counter: str,
) -> None:
    response = await worker_api.post(
        claimed_job.id, "heartbeat", json={"attempt": 1, counter: 2**40}
    )

    assert response.status_code == 422, response.text
    assert counter in response.json()["error"]["validator"]
    await reload(session, claimed_job)
    assert claimed_job.frames_done == 0


@pytest.mark.parametrize(
    "applied",
    [
        '{"3": {"strength": NaN}}',
        '{"3": {"strength": Infinity}}',
        '{"3": {"positive_prompt": "\\ud800"}}',
        '{"3": {"steering": {"a": [[[[[[[[[1]]]]]]]]]}}}',
        '{"frame": {"strength": 0.5}}',
        '{"-3": {"strength": 0.5}}',
    ],
    ids=[
        "nan",
        "infinity",
        "surrogate",
        "too-deep",
        "non-numeric-frame",
        "negative-frame",
    ],
)
async def test_heartbeat_applied_unstorable(
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
    applied: str,
) -> None:
    body = '{"attempt": 1, "applied": ' + applied + "}"

    response = await worker_api.client.post(
        f"/api/workers/jobs/{claimed_job.id}/heartbeat",
        content=body,
        headers={**worker_api.worker.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["validator"]
    assert await _applied_steering(session, claimed_job) == {}


async def test_heartbeat_applied_nested_values_accepted(
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
) -> None:
    # NUL is stored as the JSON escape, and a settings prompt may contain one.
    applied = {"7": {"zoom": 1.02, "perspective": {"x": 0.1}, "prompt": "a\x00fox"}}

    response = await worker_api.post(
        claimed_job.id, "heartbeat", json={"attempt": 1, "applied": applied}
    )

    assert response.status_code == 200, response.text
    assert await _applied_steering(session, claimed_job) == applied


@pytest.mark.parametrize(
    "body",
    [
        {"attempt": 1, "error": "bad\x00frame"},
        {"attempt": 1, "error": "late", "cancelled": True, "frames_rendered": 2**40},
        {"attempt": 1, "error": "late", "frames_rendered": 2**31},
    ],
    ids=["nul-error", "huge-cancelled-frames", "frames-beyond-int32"],
)
async def test_fail_unstorable_input(
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
    body: dict[str, object],
) -> None:
    response = await worker_api.post(claimed_job.id, "fail", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["validator"]
    await reload(session, claimed_job)
    assert claimed_job.status == JobStatus.PROCESSING.value
    assert claimed_job.error_message is None


@pytest.mark.parametrize(
    "metadata",
    [
        '{"timings": {"seconds_per_frame": NaN}}',
        '{"timings": {"seconds_per_frame": Infinity}}',
        '{"applied_steering": {"1": {"strength": NaN}}}',
        '{"applied_steering": {"1": {"x": ' + "[" * 5000 + "]" * 5000 + "}}}",
        '{"timings": {"total": 1' + "0" * 5000 + "}}",
    ],
    ids=["nan", "infinity", "applied-nan", "deep", "long-integer"],
)
async def test_result_metadata_unstorable(
    app: FastAPI,
    session: AsyncSession,
    claimed_job: VideoJob,
    worker_api: WorkerJobApi,
    metadata: str,
) -> None:
    files_before = stored_files(app)

    response = await worker_api.post(
        claimed_job.id,
        "result",
        data={"attempt": "1", "frames_rendered": "1", "metadata": metadata},
        files={"video": ("out.mp4", b"mp4", "video/mp4")},
    )

    assert response.status_code == 422, response.text
    assert any(
        key.startswith("metadata") for key in response.json()["error"]["validator"]
    )
    await reload(session, claimed_job)
    assert claimed_job.status == JobStatus.PROCESSING.value
    assert stored_files(app) == files_before
