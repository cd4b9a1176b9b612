"""Read routes: status, queue lists, full job, JSON:API views, catalogs, ownership."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.core.storage import Storage, new_key
from mage_studio.jobs.models import DeforumPreset, RenderModel
from tests.factories import auth_headers, create_admin
from tests.jobs.conftest import Actor
from tests.jobs.factories import create_job, create_model

STATUS_KEYS = {
    "id", "status", "progress", "estimated_time_left", "job_time", "queued_at",
    "queue", "generator", "model_id", "prompt", "negative_prompt", "cfg_scale",
    "seed", "denoising", "fps", "frame_count", "length", "width", "height",
    "generation_parameters", "urls",
}  # fmt: skip
JOB_COLUMNS = {
    "id", "user_id", "model_id", "generator", "status", "progress", "job_time",
    "estimated_time_left", "retries", "queued_at", "prompt", "negative_prompt",
    "cfg_scale", "steps", "denoising", "seed", "width", "height", "fps",
    "frame_count", "length", "size", "codec", "audio_codec", "bitrate",
    "mimetype", "original_filename", "original_url", "url", "preview_img",
    "preview_animation", "thumbnail", "soundtrack_url", "controlnet",
    "generation_parameters", "revision", "created_at", "updated_at",
}  # fmt: skip
SUMMARY_KEYS = {
    "id", "status", "progress", "estimated_time_left", "job_time", "queued_at",
    "generator", "model_id", "prompt", "negative_prompt", "frame_count", "queue",
}  # fmt: skip
URL_KEYS = {
    "original", "preview_img", "preview_animation", "video", "thumbnail",
    "last_frame", "soundtrack",
    "thumbnail_square", "backdrop", "poster", "animated_preview",
}  # fmt: skip
PLACEMENT = {
    "your_position": 3,
    "your_estimated_time": 12.5,
    "estimated_start_in": 30.0,
    "estimated_finish_in": 42.5,
    "total_jobs_processing": 2,
    "total_jobs_in_queue": 7,
    "estimated_time_processing_jobs": 20.0,
    "estimated_time_for_all_jobs": 95.0,
}


class FakeSnapshot:
    """Stands in for the queue domain's snapshot: a placement per job id."""

    def __init__(self, placements: dict[int, dict[str, Any]]) -> None:
        self.placements = placements

    async def placement(self, job_id: int) -> dict[str, Any] | None:
        return self.placements.get(job_id)


async def test_status_has_every_key(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, owner: Actor
) -> None:
    storage: Storage = app.state.storage
    key = new_key("tests", "mp4")
    await storage.save_bytes(key, b"video bytes")
    job = await create_job(
        session,
        owner.user,
        status="finished",
        video_key=key,
        generation_parameters={"prompt": "p", "seed": 3},
        fps_num=24000,
        fps_den=1001,
        queued_at=utcnow(),
    )
    await session.commit()

    response = await client.get(f"/status/{job.id}", headers=owner.headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= STATUS_KEYS
    assert body["queue"] == []
    assert body["generation_parameters"] == {"prompt": "p", "seed": 3}
    assert body["fps"] == pytest.approx(23.976, abs=0.001)
    assert isinstance(body["queued_at"], int)
    assert set(body["urls"]) == URL_KEYS
    assert body["urls"]["thumbnail"] is None
    video = await client.get(body["urls"]["video"])
    assert video.content == b"video bytes"


async def test_status_queue_from_snapshot(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, owner: Actor
) -> None:
    queued = await create_job(session, owner.user, status="approved")
    running = await create_job(session, owner.user, status="processing")
    await session.commit()
    app.state.queue_snapshot = FakeSnapshot(
        {queued.id: PLACEMENT, running.id: PLACEMENT}
    )

    queued_body = (
        await client.get(f"/status/{queued.id}", headers=owner.headers)
    ).json()
    running_body = (
        await client.get(f"/status/{running.id}", headers=owner.headers)
    ).json()

    assert queued_body["queue"] == PLACEMENT
    assert queued_body["estimated_time_left"] == 42.5
    assert running_body["queue"] == []


async def test_status_without_snapshot_entry(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, owner: Actor
) -> None:
    queued = await create_job(session, owner.user, status="approved")
    await session.commit()
    app.state.queue_snapshot = FakeSnapshot({})

    response = await client.get(f"/status/{queued.id}", headers=owner.headers)

    assert response.json()["queue"] == []


async def test_status_for_admin_and_not_stranger(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    stranger: Actor,
) -> None:
    job = await create_job(session, owner.user)
    admin = await create_admin(session)
    await session.commit()

    as_admin = await client.get(
        f"/status/{job.id}", headers=auth_headers(settings, admin)
    )
    as_stranger = await client.get(f"/status/{job.id}", headers=stranger.headers)
    anonymous = await client.get(f"/status/{job.id}")

    assert as_admin.status_code == 200
    assert as_stranger.status_code == 404
    assert anonymous.status_code == 401


async def test_queue_lists_own_jobs_newest_first(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, stranger: Actor
) -> None:
    ids = [(await create_job(session, owner.user)).id for _ in range(3)]
    await create_job(session, stranger.user)
    await session.commit()

    first_page = await client.get("/api/queue?per_page=2", headers=owner.headers)
    second_page = await client.get(
        "/queue", headers=owner.headers, params={"page": 2, "per_page": 2}
    )

    assert first_page.status_code == 200
    rows = first_page.json()
    assert [row["id"] for row in rows] == [ids[2], ids[1]]
    assert set(rows[0]) >= JOB_COLUMNS
    assert [row["id"] for row in second_page.json()] == [ids[0]]


async def test_processing_views(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, stranger: Actor
) -> None:
    running = await create_job(session, owner.user, status="processing")
    low = await create_job(session, owner.user, status="approved", priority=2)
    high = await create_job(session, owner.user, status="approved", priority=0)
    await create_job(session, owner.user, status="finished")
    await create_job(session, stranger.user, status="approved")
    await create_job(session, stranger.user, status="processing")
    await session.commit()

    status = await client.get(
        "/api/video-jobs/processing/status", headers=owner.headers
    )
    queue = await client.get("/api/video-jobs/processing/queue", headers=owner.headers)

    body = status.json()
    assert [job["id"] for job in body["processing"]] == [running.id]
    assert [job["id"] for job in body["queue"]] == [high.id, low.id]
    assert body["counts"] == {"processing": 2, "queued": 3}
    assert set(body["queue"][0]) >= SUMMARY_KEYS
    assert [job["id"] for job in queue.json()] == [running.id, high.id, low.id]


async def test_full_job(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    preset: DeforumPreset,
) -> None:
    job = await create_job(
        session,
        owner.user,
        generator="deforum",
        preset_id=preset.id,
        deforum_settings={"zoom": "0:(1.02)"},
    )
    await session.commit()

    response = await client.get(f"/api/video-jobs/{job.id}", headers=owner.headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= JOB_COLUMNS
    assert set(body["urls"]) == URL_KEYS
    assert body["preset"] == "zoom-in"
    assert body["source"]["width"] == 64
    assert body["deforum_settings"] == {"zoom": "0:(1.02)"}


async def test_v1_json_api_views(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    stranger: Actor,
    model: RenderModel,
) -> None:
    disabled = await create_model(session, enabled=False)
    mine = await create_job(session, owner.user)
    theirs = await create_job(session, stranger.user)
    await session.commit()

    files = await client.get("/api/v1/model-files", headers=owner.headers)
    enabled = await client.get(
        "/api/v1/model-files", headers=owner.headers, params={"filter[enabled]": 1}
    )
    jobs = await client.get("/api/v1/video-jobs", headers=owner.headers)
    one = await client.get(f"/api/v1/video-jobs/{mine.id}", headers=owner.headers)
    other = await client.get(f"/api/v1/video-jobs/{theirs.id}", headers=owner.headers)
    generators = await client.get("/api/v1/generators", headers=owner.headers)

    assert files.headers["content-type"].startswith("application/vnd.api+json")
    assert {row["id"] for row in files.json()["data"]} == {
        str(model.id),
        str(disabled.id),
    }
    assert [row["id"] for row in enabled.json()["data"]] == [str(model.id)]
    assert enabled.json()["data"][0]["type"] == "model-files"
    assert [row["id"] for row in jobs.json()["data"]] == [str(mine.id)]
    assert one.json()["data"]["attributes"]["status"] == "pending"
    assert other.status_code == 404
    assert {row["id"] for row in generators.json()["data"]} == {"vid2vid", "deforum"}


async def test_catalogs_wrapped_in_data(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
    preset: DeforumPreset,
) -> None:
    await create_model(session, enabled=False)
    await session.commit()

    models = await client.get("/api/models", headers=owner.headers)
    presets = await client.get("/api/deforum/presets", headers=owner.headers)

    assert [row["id"] for row in models.json()["data"]] == [model.id]
    assert models.json()["data"][0]["credits_per_frame"] == 2
    assert presets.json()["data"][0]["slug"] == "zoom-in"
    assert presets.json()["data"][0]["settings"]["zoom"] == "0:(1.02)"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/status/{id}"),
        ("GET", "/api/video-jobs/{id}"),
        ("DELETE", "/api/video-jobs/{id}"),
        ("GET", "/api/v1/video-jobs/{id}"),
        ("POST", "/api/cancelJob/{id}"),
        ("POST", "/cancelJob/{id}"),
    ],
)
async def test_other_users_job_is_404(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    stranger: Actor,
    method: str,
    path: str,
) -> None:
    job = await create_job(session, owner.user, status="finished")
    await session.commit()

    response = await client.request(
        method, path.format(id=job.id), headers=stranger.headers
    )
    missing = await client.request(
        method, path.format(id=2_000_000_000), headers=owner.headers
    )

    assert response.status_code == 404
    assert missing.status_code == 404


async def test_soundtrack_route_other_users_job_is_404(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, stranger: Actor
) -> None:
    job = await create_job(session, owner.user)
    await session.commit()

    response = await client.post(
        f"/api/video-jobs/{job.id}/soundtrack",
        headers=stranger.headers,
        files={"soundtrack": ("a.wav", b"RIFF")},
    )

    assert response.status_code == 404


async def test_huge_job_id_is_422_not_500(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.get("/api/video-jobs/99999999999", headers=owner.headers)

    assert response.status_code == 422
