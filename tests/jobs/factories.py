"""Factories for job tests: catalog rows, jobs in any state and generate bodies."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.jobs.models import DeforumPreset, RenderModel, VideoJob
from mage_studio.users.models import User

_counter = itertools.count(1)


async def create_model(
    session: AsyncSession,
    *,
    credits_per_frame: int = 1,
    enabled: bool = True,
    width: int = 512,
    height: int = 512,
) -> RenderModel:
    number = next(_counter)
    model = RenderModel(
        name=f"Model {number}",
        backend_name=f"model-{number}.safetensors",
        base="sd15",
        width=width,
        height=height,
        credits_per_frame=credits_per_frame,
        enabled=enabled,
    )
    session.add(model)
    await session.flush()
    return model


async def create_preset(
    session: AsyncSession,
    *,
    slug: str | None = None,
    settings: dict[str, Any] | None = None,
    enabled: bool = True,
) -> DeforumPreset:
    number = next(_counter)
    preset = DeforumPreset(
        slug=slug or f"preset-{number}",
        name=f"Preset {number}",
        description="",
        settings=settings if settings is not None else {"zoom": "0:(1.02)"},
        enabled=enabled,
    )
    session.add(preset)
    await session.flush()
    return preset


async def create_job(
    session: AsyncSession, user: User, *, status: str = "pending", **values: Any
) -> VideoJob:
    """Insert a job with a probed 64x48, 24 fps, 12-frame source and flush."""
    defaults: dict[str, Any] = {
        "generator": "vid2vid",
        "source_kind": "video",
        "source_key": None,
        "source_width": 64,
        "source_height": 48,
        "source_fps_num": 24,
        "source_fps_den": 1,
        "source_frame_count": 12,
        "source_duration": 0.5,
        "width": 64,
        "height": 48,
        "fps_num": 24,
        "fps_den": 1,
        "frame_count": 12,
        "length": 0.5,
        "mimetype": "video/mp4",
    }
    if status in ("approved", "processing"):
        defaults.update(
            queue_name="medium",
            priority=1,
            queued_at=utcnow() - timedelta(seconds=next(_counter)),
            render_kind="preview",
            render_frames=1,
        )
    if status == "processing":
        defaults.update(attempt=1, lease_owner="worker-1", lease_expires_at=utcnow())
    defaults.update(values)
    job = VideoJob(user_id=user.id, status=status, **defaults)
    session.add(job)
    await session.flush()
    return job


def file_part(path: Path, filename: str | None = None) -> tuple[str, bytes]:
    """Return an httpx multipart file tuple with the file's content."""
    return filename or path.name, path.read_bytes()


def stored_files(settings: Settings) -> set[Path]:
    """Every file under the storage folder, staging included."""
    root = Path(settings.storage_path)
    return {path for path in root.rglob("*") if path.is_file()}


async def upload_file(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    path: Path,
    *,
    kind: str = "vid2vid",
    soundtrack: Path | None = None,
    filename: str | None = None,
    route: str = "/api/upload",
) -> httpx.Response:
    files = {"attachment": file_part(path, filename)}
    if soundtrack is not None:
        files["soundtrack"] = file_part(soundtrack)
    return await client.post(route, headers=headers, files=files, data={"type": kind})


async def reload(session: AsyncSession, job_id: int) -> VideoJob:
    job = await session.get(VideoJob, job_id, populate_existing=True)
    assert job is not None
    return job


def vid2vid(job: VideoJob, model: RenderModel, /, **fields: Any) -> dict[str, Any]:
    """Build a vid2vid generate body. A field given as `...` is left out."""
    body = {
        "videoId": job.id,
        "type": "vid2vid",
        "modelId": model.id,
        "prompt": "a watercolour city",
        "cfgScale": 7,
        "denoising": 0.5,
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not ...}


def deforum(
    job: VideoJob, model: RenderModel, catalog: DeforumPreset, /, **fields: Any
) -> dict[str, Any]:
    """Build a deforum generate body. A field given as `...` is left out."""
    body = {
        "videoId": job.id,
        "type": "deforum",
        "modelId": model.id,
        "prompt": "a forest in autumn",
        "preset": catalog.slug,
        "length": 2,
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not ...}


async def post_generate(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/api/generate", headers=headers, json=body)
