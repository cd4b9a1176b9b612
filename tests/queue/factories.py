"""Factories for queue tests: models, queued jobs, worker tokens and clients."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import utcnow
from mage_studio.jobs.models import JobStatus, RenderModel, VideoJob
from mage_studio.queue import service
from mage_studio.queue.dialects import ClaimFilter
from mage_studio.queue.schemas import JobSpec
from mage_studio.users.models import User

_counter = itertools.count(1)


async def create_model(session: AsyncSession, **values: Any) -> RenderModel:
    number = next(_counter)
    fields: dict[str, Any] = {
        "name": f"model-{number}",
        "backend_name": f"model-{number}.safetensors",
        "base": "sd15",
        "width": 512,
        "height": 512,
        "credits_per_frame": 1,
    }
    fields.update(values)
    model = RenderModel(**fields)
    session.add(model)
    await session.flush()
    return model


async def create_job(
    session: AsyncSession,
    user: User,
    *,
    queue_name: str = "low",
    priority: int | None = None,
    queued_at: datetime | None = None,
    render_kind: str = "full",
    status: str = JobStatus.APPROVED.value,
    **values: Any,
) -> VideoJob:
    """Insert a queued job as the jobs domain leaves it after generate/finalize."""
    priorities = {"critical": 0, "medium": 1, "low": 2}
    fields: dict[str, Any] = {
        "user_id": user.id,
        "generator": "vid2vid",
        "status": status,
        "render_kind": render_kind,
        "queue_name": queue_name,
        "priority": priorities[queue_name] if priority is None else priority,
        "queued_at": queued_at or utcnow(),
        "prompt": "a watercolour city",
        "seed": 1234,
        "width": 512,
        "height": 512,
        "fps_num": 24000,
        "fps_den": 1001,
        "frame_count": 10,
        "source_kind": "video",
        "source_key": "uploads/2026/01/01/source.mp4",
        "source_frame_count": 10,
    }
    fields.update(values)
    job = VideoJob(**fields)
    session.add(job)
    await session.flush()
    return job


async def create_jobs(
    session: AsyncSession, user: User, queue_names: list[str], **values: Any
) -> list[VideoJob]:
    """Insert one job per queue name, one millisecond apart in `queued_at`."""
    start = utcnow() - timedelta(hours=1)
    return [
        await create_job(
            session,
            user,
            queue_name=name,
            queued_at=start + timedelta(milliseconds=index),
            **values,
        )
        for index, name in enumerate(queue_names)
    ]


async def claim(
    app: FastAPI,
    token_id: int,
    worker_name: str = "gpu-01",
    *,
    queues: list[str] | None = None,
    generators: list[str] | None = None,
    models: list[str] | None = None,
    wait: float = 0.0,
) -> JobSpec | None:
    """Claim through the service, each attempt in its own session."""
    settings = app.state.settings
    request = service.ClaimRequestData(
        worker_name=worker_name,
        token_id=token_id,
        claim_filter=ClaimFilter(
            queues=service.served_queues(settings, queues or []),
            generators=generators or [],
            models=models or [],
        ),
        wait=wait,
    )
    return await service.claim_job(app, request)


async def claim_http(
    client: httpx.AsyncClient, token: str, **body: Any
) -> httpx.Response:
    payload = {"worker_name": "gpu-01", "wait": 0, **body}
    headers = {"Authorization": f"Bearer {token}"}
    return await client.post("/api/workers/claim", json=payload, headers=headers)


async def reload(session: AsyncSession, row: Any) -> None:
    """Refresh `row` and end the read transaction.

    On SQLite every transaction holds the database's write lock, so a test session
    that stays in a transaction would block the service's own sessions.
    """
    await session.refresh(row)
    await session.commit()


def stored_files(app: FastAPI) -> set[str]:
    """List every file the local storage contains under renders/ and frames/."""
    root = app.state.storage.root
    return {
        str(path.relative_to(root))
        for folder in ("renders", "frames")
        for path in (root / folder).rglob("*")
        if path.is_file()
    }
