"""POST /api/video-jobs/{id}/soundtrack: decoding check, storage, remux."""

from __future__ import annotations

from pathlib import Path

import av
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.storage import Storage, new_key
from mage_studio.jobs.models import VideoJob
from tests.jobs.conftest import Actor
from tests.jobs.factories import create_job, file_part, reload, stored_files


async def post_soundtrack(
    client: httpx.AsyncClient, actor: Actor, job: VideoJob, path: Path
) -> httpx.Response:
    return await client.post(
        f"/api/video-jobs/{job.id}/soundtrack",
        headers=actor.headers,
        files={"soundtrack": file_part(path)},
    )


async def test_soundtrack_on_pending_job_is_stored(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, media: Path
) -> None:
    job = await create_job(session, owner.user)
    await session.commit()

    response = await post_soundtrack(client, owner, job, media / "tone.mp3")

    assert response.status_code == 200, response.text
    assert response.json()["urls"]["soundtrack"] is not None
    assert (await reload(session, job.id)).soundtrack_key is not None


async def test_soundtrack_remuxes_finished_video(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    media: Path,
    tmp_path: Path,
) -> None:
    storage: Storage = app.state.storage
    old_video = new_key("videos", "mp4")
    await storage.save_file(old_video, media / "silent.mp4")
    job = await create_job(session, owner.user, status="finished", video_key=old_video)
    await session.commit()

    response = await post_soundtrack(client, owner, job, media / "tone24.wav")

    assert response.status_code == 200, response.text
    fresh = await reload(session, job.id)
    assert fresh.video_key is not None
    assert fresh.video_key != old_video
    assert not await storage.exists(old_video)
    output = tmp_path / "out.mp4"
    output.write_bytes(await storage.read(fresh.video_key))
    with av.open(str(output)) as container:
        assert len(container.streams.audio) == 1
        assert container.streams.video[0].frames == 6


async def test_soundtrack_rejected_while_processing(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, media: Path
) -> None:
    job = await create_job(session, owner.user, status="processing")
    await session.commit()

    response = await post_soundtrack(client, owner, job, media / "tone.wav")

    assert response.status_code == 409


@pytest.mark.parametrize(
    ("name", "status"), [("notes.mp4", 415), ("silent.mp4", 415), ("empty.png", 415)]
)
async def test_bad_soundtrack_stores_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    media: Path,
    name: str,
    status: int,
) -> None:
    job = await create_job(session, owner.user)
    await session.commit()
    before = stored_files(settings)

    response = await post_soundtrack(client, owner, job, media / name)

    assert response.status_code == status, response.text
    assert stored_files(settings) == before
    assert (await reload(session, job.id)).soundtrack_key is None


async def test_soundtrack_requires_file(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor
) -> None:
    job = await create_job(session, owner.user)
    await session.commit()

    response = await client.post(
        f"/api/video-jobs/{job.id}/soundtrack",
        headers=owner.headers,
        files={"other": ("a.wav", b"data")},
    )

    assert response.status_code == 422
    assert "soundtrack" in response.json()["error"]["validator"]
