"""Generate, finalize and cancel announce the new status after the commit."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import RenderModel, VideoJob
from tests.jobs.conftest import Actor
from tests.jobs.factories import create_job, post_generate, vid2vid


async def test_status_changes_are_published(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
) -> None:
    published: list[tuple[int, dict[str, Any]]] = []

    async def capture(_: FastAPI, job_id: int, event: dict[str, Any]) -> None:
        published.append((job_id, dict(event)))

    app.state.job_event_publisher = capture
    job: VideoJob = await create_job(session, owner.user)
    await session.commit()

    generated = await post_generate(client, owner.headers, vid2vid(job, model))
    cancelled = await client.post(f"/api/cancelJob/{job.id}", headers=owner.headers)

    assert generated.status_code == 200, generated.text
    assert cancelled.status_code == 200, cancelled.text
    assert published == [
        (job.id, {"type": "status", "status": "approved"}),
        (job.id, {"type": "status", "status": "cancelled"}),
    ]


async def test_rejected_generate_publishes_nothing(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, owner: Actor
) -> None:
    published: list[int] = []

    async def capture(_: FastAPI, job_id: int, __: dict[str, Any]) -> None:
        published.append(job_id)

    app.state.job_event_publisher = capture
    job = await create_job(session, owner.user)
    await session.commit()

    response = await post_generate(client, owner.headers, {"videoId": job.id})

    assert response.status_code == 422
    assert published == []
