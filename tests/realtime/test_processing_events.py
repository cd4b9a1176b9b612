"""The processing overview stream: the caller's active jobs, pushed on change."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue.events import publish_job_event
from mage_studio.users.models import User
from tests.factories import auth_headers, create_user
from tests.realtime.factories import create_job, open_stream

URL = "/api/video-jobs/processing/events"


async def test_overview_is_sent_first_and_again_when_a_job_changes(
    app: FastAPI,
    http: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: User,
) -> None:
    running = await create_job(session, owner)
    queued = await create_job(session, owner, status=JobStatus.APPROVED.value)
    stranger = await create_user(session)
    await create_job(session, stranger)
    await session.commit()
    headers = auth_headers(settings, owner)

    async with open_stream(http, URL, headers=headers) as sse:
        first = await sse.next()
        await session.execute(
            update(VideoJob).where(VideoJob.id == running.id).values(progress=50.0)
        )
        await session.commit()
        await publish_job_event(app, running.id, {"type": "progress", "progress": 50})
        second = await sse.next()

    assert first.event == "processing"
    assert [job["id"] for job in first.data["processing"]] == [running.id]
    assert [job["id"] for job in first.data["queue"]] == [queued.id]
    assert first.data["counts"] == {"processing": 2, "queued": 1}
    assert second.event == "processing"
    assert second.data["processing"][0]["progress"] == 50


async def test_overview_as_json_matches_the_status_route(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, owner: User
) -> None:
    await create_job(session, owner)
    await session.commit()
    headers = auth_headers(settings, owner)

    pushed = await client.get(URL, headers=headers)
    polled = await client.get("/api/video-jobs/processing/status", headers=headers)

    assert pushed.status_code == 200
    assert pushed.json() == polled.json()


async def test_overview_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get(URL, headers={"Accept": "text/event-stream"})

    assert response.status_code == 401
