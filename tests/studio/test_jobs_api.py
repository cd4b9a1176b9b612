"""Listing, reading and cancelling studio jobs."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from mage_studio.queue import tokens
from tests.billing.factories import available
from tests.queue.factories import claim, reload
from tests.studio.conftest import STARTING_CREDITS, Actor


async def export(
    client: httpx.AsyncClient, actor: Actor, job: VideoJob, **body: object
) -> dict[str, object]:
    response = await client.post(
        "/api/studio/exports",
        headers=actor.headers,
        json={"sourceJobId": job.id, **body},
    )
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()["data"]
    return data


async def test_list_shows_only_own_studio_jobs(
    client: httpx.AsyncClient,
    actor: Actor,
    stranger: Actor,
    finished: VideoJob,
) -> None:
    first = await export(client, actor, finished, aspect="9:16")
    second = await export(client, actor, finished, aspect="1:1")

    mine = await client.get("/api/studio/jobs", headers=actor.headers)
    theirs = await client.get("/api/studio/jobs", headers=stranger.headers)

    assert mine.status_code == 200
    body = mine.json()
    assert [job["id"] for job in body["data"]] == [second["id"], first["id"]]
    assert body["meta"] == {
        "current_page": 1,
        "per_page": 20,
        "total": 2,
        "last_page": 1,
    }
    assert finished.id not in [job["id"] for job in body["data"]]
    assert theirs.json()["data"] == []


async def test_list_pages_and_filters_by_status(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    for _ in range(3):
        await export(client, actor, finished)

    page = await client.get(
        "/api/studio/jobs", headers=actor.headers, params={"per_page": 2, "page": 2}
    )
    approved = await client.get(
        "/api/studio/jobs", headers=actor.headers, params={"status": "approved"}
    )
    finished_only = await client.get(
        "/api/studio/jobs", headers=actor.headers, params={"status": "finished"}
    )
    invalid = await client.get(
        "/api/studio/jobs", headers=actor.headers, params={"status": "done"}
    )

    assert len(page.json()["data"]) == 1
    assert page.json()["meta"]["last_page"] == 2
    assert approved.json()["meta"]["total"] == 3
    assert finished_only.json()["data"] == []
    assert invalid.status_code == 422
    assert "status" in invalid.json()["error"]["validator"]


async def test_get_job_of_owner_only(
    client: httpx.AsyncClient, actor: Actor, stranger: Actor, finished: VideoJob
) -> None:
    created = await export(client, actor, finished)

    own = await client.get(f"/api/studio/jobs/{created['id']}", headers=actor.headers)
    other = await client.get(
        f"/api/studio/jobs/{created['id']}", headers=stranger.headers
    )
    not_studio = await client.get(
        f"/api/studio/jobs/{finished.id}", headers=actor.headers
    )
    as_video_job = await client.get(
        f"/api/video-jobs/{created['id']}", headers=actor.headers
    )

    assert own.status_code == 200
    assert own.json()["data"]["id"] == created["id"]
    assert own.json()["data"]["status"] == "approved"
    assert other.status_code == 404
    assert not_studio.status_code == 404
    assert as_video_job.status_code == 200, as_video_job.text
    assert as_video_job.json()["generator"] == "studio"
    assert as_video_job.json()["generation_parameters"]["operation"] == "export"


async def test_cancel_queued_job_releases_credits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    stranger: Actor,
    finished: VideoJob,
) -> None:
    created = await export(client, actor, finished)

    foreign = await client.post(
        f"/api/studio/jobs/{created['id']}/cancel", headers=stranger.headers
    )
    response = await client.post(
        f"/api/studio/jobs/{created['id']}/cancel", headers=actor.headers
    )
    again = await client.post(
        f"/api/studio/jobs/{created['id']}/cancel", headers=actor.headers
    )

    assert foreign.status_code == 404
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "cancelled"
    assert response.json()["data"]["credits_reserved"] == 0
    assert again.status_code == 409
    _, credits = await available(session, actor.user)
    assert credits == STARTING_CREDITS


async def test_cancel_processing_job_asks_worker(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    finished: VideoJob,
) -> None:
    created = await export(client, actor, finished)
    issued = await tokens.create_token(session, "cpu")
    await session.commit()
    spec = await claim(app, issued.record.id, "cpu-01")
    assert spec is not None

    response = await client.post(
        f"/api/studio/jobs/{created['id']}/cancel", headers=actor.headers
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "processing"
    assert data["cancel_requested"] is True
    job = await session.get(VideoJob, created["id"])
    assert job is not None
    await reload(session, job)
    assert job.cancel_requested


async def test_cancel_of_video_job_not_found(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    response = await client.post(
        f"/api/studio/jobs/{finished.id}/cancel", headers=actor.headers
    )

    assert response.status_code == 404


async def test_studio_job_cannot_be_generated_or_finalized(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    created = await export(client, actor, finished)
    await client.post(f"/api/studio/jobs/{created['id']}/cancel", headers=actor.headers)
    body = {"videoId": created["id"], "type": "vid2vid", "modelId": 1, "prompt": "x"}

    generated = await client.post("/api/generate", headers=actor.headers, json=body)
    finalized = await client.post(
        "/api/finalize", headers=actor.headers, json={"videoId": created["id"]}
    )

    assert generated.status_code == 422
    assert "videoId" in generated.json()["error"]["validator"]
    assert finalized.status_code == 422
