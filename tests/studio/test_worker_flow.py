"""A studio job end to end: queued by the API, claimed, run by the media code on
the files the worker downloads, reported back, and downloaded by the user."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import av
import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from mage_studio.queue import tokens
from mage_studio.queue.schemas import JobSpec
from mage_studio.render.pipelines import RenderOutputs
from mage_studio.render.studio import (
    StudioTask,
    download_studio_media,
    make_renditions,
    run_studio,
)
from tests.billing.factories import available
from tests.queue.factories import claim
from tests.studio.conftest import STARTING_CREDITS, Actor, upload_watermark
from tests.studio.factories import finished_job


async def claim_studio_job(app: FastAPI, session: AsyncSession) -> JobSpec:
    issued = await tokens.create_token(session, "cpu")
    await session.commit()
    spec = await claim(app, issued.record.id, "cpu-01", generators=["studio"])
    assert spec is not None
    return spec


async def run_claimed(
    client: httpx.AsyncClient, spec: JobSpec, folder: Path
) -> RenderOutputs:
    """Download the task's media through the API and run it, as a worker does."""
    assert spec.studio is not None
    task = StudioTask.model_validate(spec.studio)

    async def download(url: str, path: Path) -> Path:
        response = await client.get(url)
        assert response.status_code == 200, url
        await asyncio.to_thread(path.write_bytes, response.content)
        return path

    media = await download_studio_media(task, folder / "media", download)
    return run_studio(
        str(spec.job_id), task.operation, task.options, media, folder / "out"
    )


async def report(
    client: httpx.AsyncClient,
    spec: JobSpec,
    outputs: RenderOutputs,
    token: str,
) -> httpx.Response:
    files: dict[str, Any] = {
        "video": ("video.mp4", outputs.video.read_bytes() if outputs.video else b""),
        "thumbnail": ("thumbnail.jpg", outputs.thumbnail.read_bytes()),
        "last_frame": ("last_frame.png", outputs.last_frame.read_bytes()),
        "preview_img": ("strip.webp", outputs.preview_img.read_bytes()),
    }
    if outputs.video is not None:
        folder = outputs.video.parent / "renditions"
        renditions = await asyncio.to_thread(make_renditions, outputs.video, folder)
        for name, path in renditions.items():
            files[f"rendition_{name}"] = (path.name, path.read_bytes())
    return await client.post(
        f"/api/workers/jobs/{spec.job_id}/result",
        data={
            "attempt": str(spec.attempt),
            "frames_rendered": str(outputs.frames_rendered),
            "metadata": json.dumps({"timings": outputs.timings}),
        },
        files=files,
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_export_runs_and_downloads(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
) -> None:
    app.state.settings.studio_credits_per_second = 5
    source = await finished_job(app, session, actor.user, tmp_path / "src", frames=18)
    await session.commit()
    await upload_watermark(client, actor, tmp_path)
    created = await client.post(
        "/api/studio/exports",
        headers=actor.headers,
        json={
            "sourceJobId": source.id,
            "aspect": "9:16",
            "fit": "pad",
            "background": {"type": "color", "color": "#ff0000"},
            "watermark": {"position": "top-left"},
        },
    )
    assert created.status_code == 201, created.text
    planned = created.json()["data"]

    issued = await tokens.create_token(session, "cpu")
    await session.commit()
    spec = await claim(app, issued.record.id, "cpu-01", generators=["studio"])
    assert spec is not None
    assert spec.generator == "studio"
    assert spec.render == "full"
    assert spec.params.frame_count == 18
    assert spec.studio is not None
    assert spec.studio["watermark_url"] is not None
    outputs = await run_claimed(client, spec, tmp_path / "worker")
    reported = await report(client, spec, outputs, issued.token)

    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "finished"
    read = await client.get(f"/api/studio/jobs/{planned['id']}", headers=actor.headers)
    data = read.json()["data"]
    assert data["status"] == "finished"
    assert data["progress"] == 100
    assert data["credits_reserved"] == 0
    assert data["urls"]["thumbnail_square"] is not None
    assert data["urls"]["animated_preview"] is not None
    video = await client.get(data["urls"]["video"])
    assert video.status_code == 200
    path = tmp_path / "download.mp4"
    path.write_bytes(video.content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (planned["width"], planned["height"])
        assert container.streams.audio
    _, credits = await available(session, actor.user)
    assert credits == STARTING_CREDITS - 10  # 1.5 s -> 2 s x 5 credits


async def test_composition_task_carries_source(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    finished: VideoJob,
    tmp_path: Path,
) -> None:
    created = await client.post(
        "/api/studio/compositions",
        headers=actor.headers,
        json={"layout": "side-by-side", "sourceJobId": finished.id},
    )
    assert created.status_code == 201, created.text

    spec = await claim_studio_job(app, session)
    outputs = await run_claimed(client, spec, tmp_path)

    assert spec.studio is not None
    assert spec.studio["operation"] == "composition"
    assert spec.studio["inputs"][0]["source_url"] is not None
    assert spec.studio["soundtrack_url"] is None
    assert (outputs.width, outputs.height) == (
        created.json()["data"]["width"],
        created.json()["data"]["height"],
    )


async def test_audio_task_carries_soundtrack(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
) -> None:
    source = await finished_job(app, session, actor.user, tmp_path, soundtrack=True)
    await session.commit()
    created = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        json={"sourceJobId": source.id, "mode": "mix", "soundtrackDb": -6},
    )
    assert created.status_code == 201, created.text

    spec = await claim_studio_job(app, session)
    outputs = await run_claimed(client, spec, tmp_path / "worker")

    assert spec.studio is not None
    assert spec.studio["soundtrack_url"] is not None
    assert outputs.has_audio


async def test_deleted_source_reaches_worker_without_url(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    finished: VideoJob,
) -> None:
    created = await client.post(
        "/api/studio/exports",
        headers=actor.headers,
        json={"sourceJobId": finished.id},
    )
    assert created.status_code == 201
    await session.delete(await session.get(VideoJob, finished.id))
    await session.commit()

    spec = await claim_studio_job(app, session)

    assert spec.studio is not None
    assert spec.studio["inputs"] == [
        {"job_id": finished.id, "video_url": None, "source_url": None}
    ]
