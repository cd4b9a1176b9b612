"""POST /api/studio/exports: validation, ownership, statuses, credits, queueing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from tests.billing.factories import available
from tests.studio.conftest import STARTING_CREDITS, Actor, upload_watermark
from tests.studio.factories import finished_job


async def studio_job_count(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(VideoJob).where(VideoJob.generator == "studio")
    )
    await session.commit()
    return int(count or 0)


async def test_export_is_queued_with_plan_and_hold(
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    finished: VideoJob,
) -> None:
    response = await client.post(
        "/api/studio/exports",
        headers=actor.headers,
        json={"sourceJobId": finished.id, "aspect": "1:1", "maxHeight": 720},
    )

    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["status"] == "approved"
    assert data["operation"] == "export"
    assert data["source_job_ids"] == [finished.id]
    assert data["options"]["aspect"] == "1:1"
    assert data["options"]["fit"] == "crop"
    assert data["options"]["maxHeight"] == 720
    assert (data["width"], data["height"]) == (48, 48)
    assert data["frame_count"] == 12
    assert data["fps"] == 12
    assert data["credits_reserved"] == 1  # one second at one credit per second
    assert data["progress"] == 0
    assert data["queued_at"] is not None
    assert data["urls"]["video"] is None
    assert data["urls"]["thumbnail_square"] is None
    job = await session.get(VideoJob, data["id"])
    assert job is not None
    assert job.generator == "studio"
    assert job.queue_name == "low"
    assert job.render_kind == "full"
    assert job.render_frames == 12
    assert job.generation_parameters == {
        "operation": "export",
        "sourceJobIds": [finished.id],
        "options": data["options"],
    }
    _, credits = await available(session, actor.user)
    assert credits == STARTING_CREDITS - 1


async def test_export_price_rounds_seconds_up(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
) -> None:
    app.state.settings.studio_credits_per_second = 3
    job = await finished_job(app, session, actor.user, tmp_path, frames=30)
    await session.commit()

    response = await client.post(
        "/api/studio/exports", headers=actor.headers, json={"sourceJobId": job.id}
    )

    assert response.status_code == 201, response.text
    assert response.json()["data"]["credits_reserved"] == 9  # 2.5 s -> 3 s x 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"aspect": "4:3"}, "aspect"),
        ({"maxHeight": 50}, "maxHeight"),
        ({"focus": {"x": 2}}, "focus.x"),
        ({"fit": "pad", "focus": {"x": 0.2}}, "focus"),
        (
            {"fit": "pad", "background": {"type": "color", "color": "#12"}},
            "background.color",
        ),
        ({"watermark": {"margin": 0.9}}, "watermark.margin"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_export_validation(
    client: httpx.AsyncClient,
    actor: Actor,
    finished: VideoJob,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(
        "/api/studio/exports",
        headers=actor.headers,
        json={"sourceJobId": finished.id, **body},
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == 422
    assert field in error["validator"]
    first_field, messages = next(iter(error["validator"].items()))
    assert error["message"] == f"{first_field}: {messages[0]}"


async def test_export_requires_source_job_id(
    client: httpx.AsyncClient, actor: Actor
) -> None:
    response = await client.post(
        "/api/studio/exports", headers=actor.headers, json={"aspect": "9:16"}
    )

    assert response.status_code == 422
    assert response.json()["error"]["validator"] == {
        "sourceJobId": ["This field is required."]
    }
    assert response.json()["error"]["message"] == (
        "sourceJobId: This field is required."
    )


async def test_export_of_another_users_job_is_not_found(
    client: httpx.AsyncClient,
    session: AsyncSession,
    stranger: Actor,
    finished: VideoJob,
) -> None:
    response = await client.post(
        "/api/studio/exports",
        headers=stranger.headers,
        json={"sourceJobId": finished.id},
    )

    assert response.status_code == 404
    assert await studio_job_count(session) == 0


async def test_export_of_unknown_job_is_not_found(
    client: httpx.AsyncClient, actor: Actor
) -> None:
    response = await client.post(
        "/api/studio/exports", headers=actor.headers, json={"sourceJobId": 999_999}
    )

    assert response.status_code == 404


@pytest.mark.parametrize("status", ["pending", "preview", "error", "cancelled"])
async def test_export_of_unfinished_job_conflicts(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
    status: str,
) -> None:
    job = await finished_job(app, session, actor.user, tmp_path, status=status)
    await session.commit()

    response = await client.post(
        "/api/studio/exports", headers=actor.headers, json={"sourceJobId": job.id}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == 1013
    assert status in response.json()["error"]["message"]


async def test_export_without_credits_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    finished: VideoJob,
) -> None:
    app.state.settings.studio_credits_per_second = STARTING_CREDITS + 1

    response = await client.post(
        "/api/studio/exports", headers=actor.headers, json={"sourceJobId": finished.id}
    )

    assert response.status_code == 402
    assert response.json()["error"]["code"] == 1011
    assert await studio_job_count(session) == 0


async def test_export_free_when_rate_is_zero(
    app: FastAPI, client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    app.state.settings.studio_credits_per_second = 0

    response = await client.post(
        "/api/studio/exports", headers=actor.headers, json={"sourceJobId": finished.id}
    )

    assert response.status_code == 201
    assert response.json()["data"]["credits_reserved"] == 0


async def test_export_watermark_needs_upload(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob, tmp_path: Path
) -> None:
    body = {"sourceJobId": finished.id, "watermark": {"position": "center"}}

    missing = await client.post("/api/studio/exports", headers=actor.headers, json=body)
    await upload_watermark(client, actor, tmp_path)
    present = await client.post("/api/studio/exports", headers=actor.headers, json=body)

    assert missing.status_code == 422
    assert "watermark" in missing.json()["error"]["validator"]
    assert missing.json()["error"]["message"].startswith("watermark: Upload a ")
    assert present.status_code == 201, present.text
    assert present.json()["data"]["options"]["watermark"]["position"] == "center"


async def test_export_requires_authentication(
    client: httpx.AsyncClient, finished: VideoJob
) -> None:
    response = await client.post(
        "/api/studio/exports", json={"sourceJobId": finished.id, "aspect": "bad"}
    )

    assert response.status_code == 401
