"""Renditions sent with a full render's result: stored, linked, replaced, deleted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from mage_studio.queue import tokens
from mage_studio.queue.schemas import RENDITION_FILE_FIELDS
from mage_studio.render.studio import RENDITION_NAMES, make_renditions
from tests.queue.factories import claim, reload
from tests.render.render_factories import write_video
from tests.studio.conftest import Actor
from tests.studio.factories import finished_job


def test_rendition_fields_match_names() -> None:
    expected = tuple(f"rendition_{name}" for name in RENDITION_NAMES)

    assert expected == RENDITION_FILE_FIELDS


async def render_result(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    job: VideoJob,
    folder: Path,
) -> httpx.Response:
    """Claim the queued job and report a result with renditions of a real video."""
    issued = await tokens.create_token(session, f"gpu-{folder.name}")
    await session.commit()
    spec = await claim(app, issued.record.id, f"gpu-{folder.name}")
    assert spec is not None
    assert spec.job_id == job.id
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    video = write_video(folder / "out.mp4", width=96, height=64, frames=12)
    renditions = await asyncio.to_thread(make_renditions, video, folder / "r")
    files = {"video": ("out.mp4", video.read_bytes(), "video/mp4")}
    for name, path in renditions.items():
        files[f"rendition_{name}"] = (path.name, path.read_bytes(), "image/jpeg")
    return await client.post(
        f"/api/workers/jobs/{job.id}/result",
        data={"attempt": str(spec.attempt), "frames_rendered": "12"},
        files=files,
        headers={"Authorization": f"Bearer {issued.token}"},
    )


async def queue_again(session: AsyncSession, job: VideoJob) -> None:
    job.status = "approved"
    job.render_kind = "full"
    job.queue_name = "low"
    job.priority = 2
    job.queued_at = job.updated_at
    await session.commit()


async def test_renditions_are_stored_and_linked(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
) -> None:
    job = await finished_job(app, session, actor.user, tmp_path / "job")
    await queue_again(session, job)

    response = await render_result(app, client, session, job, tmp_path / "first")

    assert response.status_code == 200, response.text
    await reload(session, job)
    assert job.renditions is not None
    assert set(job.renditions) == set(RENDITION_NAMES)
    assert job.renditions["backdrop"].endswith(".jpg")
    assert job.renditions["animated_preview"].endswith(".webp")
    detail = await client.get(f"/api/video-jobs/{job.id}", headers=actor.headers)
    urls = detail.json()["urls"]
    for name in RENDITION_NAMES:
        assert urls[name] is not None
    poster = await client.get(urls["poster"])
    assert poster.status_code == 200
    assert poster.content[:3] == b"\xff\xd8\xff"  # a JPEG


async def test_new_renditions_replace_old_files(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
) -> None:
    job = await finished_job(app, session, actor.user, tmp_path / "job")
    await queue_again(session, job)
    await render_result(app, client, session, job, tmp_path / "first")
    await reload(session, job)
    old = dict(job.renditions or {})
    await queue_again(session, job)

    response = await render_result(app, client, session, job, tmp_path / "second")

    assert response.status_code == 200, response.text
    await reload(session, job)
    assert job.renditions is not None
    storage = app.state.storage
    for name in RENDITION_NAMES:
        assert job.renditions[name] != old[name]
        assert not await storage.exists(old[name])
        assert await storage.exists(job.renditions[name])


async def test_deleting_job_removes_renditions(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
) -> None:
    job = await finished_job(app, session, actor.user, tmp_path / "job")
    await queue_again(session, job)
    await render_result(app, client, session, job, tmp_path / "first")
    await reload(session, job)
    keys = list((job.renditions or {}).values())

    response = await client.delete(f"/api/video-jobs/{job.id}", headers=actor.headers)

    assert response.status_code in (200, 204), response.text
    assert keys
    for key in keys:
        assert not await app.state.storage.exists(key)
