"""Claims: strict priority, FIFO, capability filters, no double claims."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import DeforumPreset, JobStatus, VideoJob
from mage_studio.queue.dialects import ClaimFilter, claim_order_query
from mage_studio.queue.models import RenderRun, Worker
from mage_studio.users.models import User
from tests.queue.conftest import WorkerCredentials
from tests.queue.factories import (
    claim,
    claim_http,
    create_job,
    create_jobs,
    create_model,
    reload,
)


async def _claim_all(app: FastAPI, token_id: int, name: str) -> list[int]:
    claimed = []
    while (spec := await claim(app, token_id, name)) is not None:
        claimed.append(spec.job_id)
    return claimed


async def test_concurrent_claimers_never_share_a_job(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    names = random.Random(7).choices(["critical", "medium", "low"], k=200)
    jobs = await create_jobs(session, owner, names)
    await session.commit()
    rank = {
        job.id: index
        for index, job in enumerate(
            sorted(jobs, key=lambda job: (job.priority, job.queued_at, job.id))
        )
    }

    per_claimer = await asyncio.gather(
        *(_claim_all(app, worker.id, f"gpu-{number}") for number in range(8))
    )

    claimed = [job_id for ids in per_claimer for job_id in ids]
    assert len(claimed) == 200
    assert set(claimed) == {job.id for job in jobs}
    # Each claimer's next claim is the first job still queued, so its own sequence
    # follows the strict claim order.
    for ids in per_claimer:
        ranks = [rank[job_id] for job_id in ids]
        assert ranks == sorted(ranks)
    attempts = (await session.scalars(select(VideoJob.attempt))).all()
    assert set(attempts) == {1}


async def test_claim_order_is_priority_then_fifo(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    jobs = await create_jobs(
        session, owner, ["low", "medium", "critical", "low", "critical", "medium"]
    )
    await session.commit()

    claimed = await _claim_all(app, worker.id, "gpu-01")

    expected = [jobs[2].id, jobs[4].id, jobs[1].id, jobs[5].id, jobs[0].id, jobs[3].id]
    assert claimed == expected


async def test_claim_sets_lease_and_attempt(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    job = await create_job(session, owner)
    await session.commit()

    spec = await claim(app, worker.id, "gpu-07")

    assert spec is not None
    assert spec.job_id == job.id
    assert spec.attempt == 1
    await reload(session, job)
    assert job.status == JobStatus.PROCESSING.value
    assert job.attempt == 1
    assert job.lease_owner == "gpu-07"
    assert job.lease_expires_at == spec.lease_expires_at
    assert job.started_at is not None
    worker_row = await session.scalar(select(Worker).where(Worker.name == "gpu-07"))
    assert worker_row is not None
    assert worker_row.current_job_id == job.id
    run = await session.scalar(select(RenderRun).where(RenderRun.job_id == job.id))
    assert run is not None
    assert run.attempt == 1
    assert run.outcome == "processing"


async def test_claim_respects_served_queues(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    critical, low = await create_jobs(session, owner, ["critical", "low"])
    await session.commit()

    spec = await claim(app, worker.id, queues=["low"])

    assert spec is not None
    assert spec.job_id == low.id
    assert await claim(app, worker.id, queues=["low"]) is None
    await reload(session, critical)
    assert critical.status == JobStatus.APPROVED.value


async def test_claim_respects_generators_and_models(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    sd15 = await create_model(session, name="sd15-base")
    xl = await create_model(session, name="sdxl-base")
    deforum_xl = await create_job(session, owner, generator="deforum", model_id=xl.id)
    vid2vid_xl = await create_job(session, owner, model_id=xl.id)
    vid2vid_sd15 = await create_job(session, owner, model_id=sd15.id)
    await session.commit()

    first = await claim(app, worker.id, generators=["vid2vid"], models=["sd15-base"])
    second = await claim(app, worker.id, generators=["vid2vid"])
    third = await claim(app, worker.id, models=["sdxl-base"])

    assert first is not None
    assert first.job_id == vid2vid_sd15.id
    assert second is not None
    assert second.job_id == vid2vid_xl.id
    assert third is not None
    assert third.job_id == deforum_xl.id


async def test_model_filter_keeps_jobs_without_model(
    session: AsyncSession, owner: User
) -> None:
    sd15 = await create_model(session, name="sd15-base")
    xl = await create_model(session, name="sdxl-base")
    studio = await create_job(session, owner, generator="studio")
    vid2vid_xl = await create_job(session, owner, model_id=xl.id)
    vid2vid_sd15 = await create_job(session, owner, model_id=sd15.id)
    await session.commit()
    query = claim_order_query(
        ClaimFilter(queues=["low"], generators=[], models=["sd15-base"])
    )

    claimable = (await session.scalars(query)).all()

    assert studio.model_id is None
    assert claimable == [studio.id, vid2vid_sd15.id]
    assert vid2vid_xl.id not in claimable


async def test_claim_returns_the_job_spec(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    model = await create_model(session, name="sd15-base", backend_name="v1-5.ckpt")
    preset = DeforumPreset(
        slug="zoom-in", name="Zoom in", settings={"zoom": "0:(1.02)"}
    )
    session.add(preset)
    await session.flush()
    base = await create_job(
        session,
        owner,
        status=JobStatus.FINISHED.value,
        generator="deforum",
        video_key="renders/1/base.mp4",
        last_frame_key="renders/1/last.png",
    )
    job = await create_job(
        session,
        owner,
        generator="deforum",
        model_id=model.id,
        preset_id=preset.id,
        extend_from_job_id=base.id,
        generation_parameters={"settings": {"zoom": "0:(1.05)", "angle": "0:(1)"}},
        steering={"strength": 0.6, "use_live_strength": True},
        soundtrack_key="uploads/2026/01/01/song.mp3",
    )
    await session.commit()

    response = await claim_http(client, worker.token, worker_name="gpu-02")

    assert response.status_code == 200, response.text
    spec = response.json()
    assert spec["job_id"] == job.id
    assert spec["attempt"] == 1
    assert spec["render"] == "full"
    assert spec["generator"] == "deforum"
    assert spec["model"]["backend_name"] == "v1-5.ckpt"
    assert spec["params"]["fps"] == "24000/1001"
    assert spec["params"]["frame_count"] == 10
    assert spec["deforum"] == {"zoom": "0:(1.05)", "angle": "0:(1)"}
    assert spec["source"]["url"].startswith("http://testserver/api/files/uploads/")
    assert "signature=" in spec["source"]["url"]
    assert spec["soundtrack_url"] is not None
    assert spec["extend_from"]["job_id"] == base.id
    assert spec["extend_from"]["last_frame_url"] is not None
    assert spec["steering"]["strength"] == 0.6
    assert spec["steering"]["use_live_strength"] is True


async def test_claim_of_a_preview_uses_preview_frames(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    await create_job(
        session,
        owner,
        queue_name="medium",
        render_kind="preview",
        generation_parameters={"frameCount": 4},
    )
    await session.commit()

    spec = await claim(app, worker.id)

    assert spec is not None
    assert spec.render == "preview"
    assert spec.params.frame_count == 4


async def test_claim_with_unknown_queues_is_rejected(
    client: httpx.AsyncClient, worker: WorkerCredentials
) -> None:
    response = await claim_http(client, worker.token, queues=["nope"])

    assert response.status_code == 422
    assert "queues" in response.json()["error"]["validator"]


async def test_claim_accepts_model_names_with_spaces(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
) -> None:
    model = await create_model(session, name="Dream Shaper 8")
    job = await create_job(session, owner, model_id=model.id)
    await session.commit()

    response = await claim_http(client, worker.token, models=["Dream Shaper 8"])

    assert response.status_code == 200
    assert response.json()["job_id"] == job.id


@pytest.mark.parametrize(
    "body", [{"worker_name": "gpu 01"}, {"queues": ["low", "not a queue"]}]
)
async def test_claim_rejects_names_with_spaces(
    client: httpx.AsyncClient, worker: WorkerCredentials, body: dict[str, Any]
) -> None:
    response = await claim_http(client, worker.token, **body)

    field = next(iter(body))
    assert response.status_code == 422
    assert [key.split(".")[0] for key in response.json()["error"]["validator"]] == [
        field
    ]


async def test_claim_without_token_is_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/workers/claim", json={"worker_name": "gpu"})

    assert response.status_code == 401


async def test_unpreparable_job_moves_to_error(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    broken, good = await create_jobs(session, owner, ["low", "low"])
    broken.source_key = "../outside/storage.mp4"
    await session.commit()

    spec = await claim(app, worker.id)

    assert spec is not None
    assert spec.job_id == good.id
    await reload(session, broken)
    assert broken.status == JobStatus.ERROR.value
    assert broken.error_message == "The job could not be prepared for rendering."
