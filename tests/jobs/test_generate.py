"""POST /api/generate: validation order, every rule, queue routing, credits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import RenderModel, VideoJob
from mage_studio.jobs.params import MAX_ID, MAX_SEED
from tests.billing.factories import available
from tests.jobs.conftest import Actor, make_actor
from tests.jobs.factories import (
    create_job,
    create_model,
    post_generate,
    reload,
    vid2vid,
)


async def test_vid2vid_queues_preview(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    response = await post_generate(client, owner.headers, vid2vid(job, model, seed=-1))

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "id", "status", "seed", "job_time", "progress", "estimated_time_left",
        "width", "height", "length", "fps",
    }  # fmt: skip
    assert body["status"] == "approved"
    assert 1 <= body["seed"] <= MAX_SEED
    assert (body["width"], body["height"]) == (512, 384)
    assert body["fps"] == 24
    row = await reload(session, job.id)
    assert row.seed == body["seed"]
    assert row.queue_name == "critical"
    assert row.priority == 0
    assert row.render_kind == "preview"
    assert row.render_frames == 1
    assert row.queued_at is not None
    assert row.credits_reserved == 2
    assert row.generation_parameters is not None
    assert row.generation_parameters["seed"] == body["seed"]
    assert row.generation_parameters["cfgScale"] == 7
    assert await available(session, owner.user.id) == (0, 998)


async def test_positive_seed_is_kept(
    client: httpx.AsyncClient, owner: Actor, job: VideoJob, model: RenderModel
) -> None:
    response = await post_generate(
        client, owner.headers, vid2vid(job, model, seed=1234)
    )

    assert response.json()["seed"] == 1234


@pytest.mark.parametrize("seed", [0, -1, ...])
async def test_missing_or_non_positive_seed_is_random(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    seed: Any,
) -> None:
    response = await post_generate(
        client, owner.headers, vid2vid(job, model, seed=seed)
    )

    stored = (await reload(session, job.id)).seed
    assert stored is not None
    assert 1 <= stored <= MAX_SEED
    assert response.json()["seed"] == stored


async def test_multi_frame_preview_goes_to_medium_queue(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    await post_generate(client, owner.headers, vid2vid(job, model, frameCount=5))

    row = await reload(session, job.id)
    assert row.queue_name == "medium"
    assert row.priority == 1
    assert row.render_frames == 5
    assert row.credits_reserved == 10


async def test_priority_tier_moves_one_queue_up(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    owner.user.priority_tier = 1
    session.add(owner.user)
    await session.commit()

    await post_generate(client, owner.headers, vid2vid(job, model, frameCount=3))

    row = await reload(session, job.id)
    assert row.queue_name == "critical"
    assert row.priority == 0


async def test_preview_frames_capped_at_source_frames(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
) -> None:
    still = await create_job(
        session, owner.user, source_kind="image", source_frame_count=1
    )
    await session.commit()

    await post_generate(client, owner.headers, vid2vid(still, model, frameCount=8))

    assert (await reload(session, still.id)).render_frames == 1


VID2VID_INVALID = [
    ({"modelId": ...}, "modelId"),
    ({"modelId": "abc"}, "modelId"),
    ({"modelId": True}, "modelId"),
    ({"cfgScale": 1}, "cfgScale"),
    ({"cfgScale": 11}, "cfgScale"),
    ({"cfgScale": 7.5}, "cfgScale"),
    ({"cfgScale": "high"}, "cfgScale"),
    ({"prompt": ...}, "prompt"),
    ({"prompt": "   "}, "prompt"),
    ({"prompt": "x" * 4001}, "prompt"),
    # PostgreSQL text columns cannot store NUL characters.
    ({"prompt": "a\x00b"}, "prompt"),
    ({"negative_prompt": "a\x00b"}, "negative_prompt"),
    ({"denoising": 0.05}, "denoising"),
    ({"denoising": 1.5}, "denoising"),
    ({"frameCount": 0}, "frameCount"),
    ({"frameCount": 21}, "frameCount"),
    ({"seed": MAX_SEED + 1}, "seed"),
    ({"seed": "lucky"}, "seed"),
    ({"controlnet": [{}]}, "controlnet.0.weight"),
    ({"controlnet": [{"weight": 1}, {"weight": 3}]}, "controlnet.1.weight"),
    ({"controlnet": "canny"}, "controlnet"),
    # Row ids are 32-bit on PostgreSQL, so larger ids cannot be looked up.
    ({"extendFromJobId": MAX_ID + 1}, "extendFromJobId"),
    ({"type": ...}, "type"),
    ({"type": "img2img"}, "type"),
]


@pytest.mark.parametrize(("fields", "field"), VID2VID_INVALID)
async def test_vid2vid_validation(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    fields: dict[str, Any],
    field: str,
) -> None:
    response = await post_generate(client, owner.headers, vid2vid(job, model, **fields))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == 422
    assert field in error["validator"]
    assert (await reload(session, job.id)).status == "pending"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cfgScale", 1e308, "cfgScale must be an integer from 2 to 10."),
        ("cfgScale", -1e308, "cfgScale must be an integer from 2 to 10."),
        ("cfgScale", 7.5, "cfgScale must be an integer from 2 to 10."),
        ("frameCount", 1e308, "frameCount must be an integer from 1 to 20."),
        ("seed", 1e308, f"seed must be an integer of at most {MAX_SEED}."),
        (
            "extendFromJobId",
            1e308,
            f"extendFromJobId must be a job id from 1 to {MAX_ID}.",
        ),
    ],
)
async def test_vid2vid_huge_number_message(
    client: httpx.AsyncClient,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
    field: str,
    value: float,
    message: str,
) -> None:
    response = await post_generate(
        client, owner.headers, vid2vid(job, model, **{field: value})
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["validator"][field] == [message]
    assert error["message"] == f"{field}: {message}"


async def test_disabled_model_rejected(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, job: VideoJob
) -> None:
    disabled = await create_model(session, enabled=False)
    await session.commit()

    response = await post_generate(client, owner.headers, vid2vid(job, disabled))

    assert response.status_code == 422
    assert "modelId" in response.json()["error"]["validator"]


async def test_controlnet_units_stored(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    job: VideoJob,
    model: RenderModel,
) -> None:
    units = [{"weight": 0.8, "module": "canny", "model": "control_canny", "x": 1}]

    response = await post_generate(
        client, owner.headers, vid2vid(job, model, controlnet=units)
    )

    assert response.status_code == 200, response.text
    stored = (await reload(session, job.id)).controlnet
    assert stored is not None
    assert stored[0]["weight"] == 0.8
    assert stored[0]["module"] == "canny"
    assert stored[0]["x"] == 1


@pytest.mark.parametrize("video_id", [..., "abc", 1.5, True, 0, -3])
async def test_video_id_must_be_integer(
    client: httpx.AsyncClient, owner: Actor, model: RenderModel, video_id: Any
) -> None:
    body = {"type": "vid2vid", "modelId": model.id, "prompt": "p"}
    if video_id is not ...:
        body["videoId"] = video_id

    response = await post_generate(client, owner.headers, body)

    assert response.status_code == 422
    assert "videoId" in response.json()["error"]["validator"]


async def test_numeric_string_video_id_accepted(
    client: httpx.AsyncClient, owner: Actor, job: VideoJob, model: RenderModel
) -> None:
    response = await post_generate(
        client, owner.headers, vid2vid(job, model, videoId=str(job.id))
    )

    assert response.status_code == 200, response.text


async def test_other_users_job_is_404_before_validation(
    client: httpx.AsyncClient, stranger: Actor, job: VideoJob, model: RenderModel
) -> None:
    response = await post_generate(
        client, stranger.headers, vid2vid(job, model, cfgScale=99, prompt=...)
    )

    assert response.status_code == 404


async def test_unknown_job_is_404(
    client: httpx.AsyncClient, owner: Actor, model: RenderModel
) -> None:
    response = await post_generate(
        client,
        owner.headers,
        {"videoId": 999999, "type": "vid2vid", "modelId": model.id},
    )

    assert response.status_code == 404


async def test_authentication_comes_first(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/generate", json={"videoId": "nonsense"})

    assert response.status_code == 401


async def test_body_must_be_object(client: httpx.AsyncClient, owner: Actor) -> None:
    response = await client.post(
        "/api/generate",
        headers={**owner.headers, "Content-Type": "application/json"},
        content=b"[1, 2",
    )

    assert response.status_code == 422


@pytest.mark.parametrize("status", ["approved", "processing", "finished"])
async def test_generate_illegal_from_status(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
    status: str,
) -> None:
    row = await create_job(session, owner.user, status=status)
    await session.commit()

    response = await post_generate(client, owner.headers, vid2vid(row, model))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == 1013
    assert (await reload(session, row.id)).status == status


@pytest.mark.parametrize("status", ["preview", "error", "cancelled"])
async def test_generate_again_from_status(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    model: RenderModel,
    status: str,
) -> None:
    row = await create_job(
        session, owner.user, status=status, attempt=2, error_message="boom"
    )
    await session.commit()

    response = await post_generate(client, owner.headers, vid2vid(row, model))

    assert response.status_code == 200, response.text
    fresh = await reload(session, row.id)
    assert fresh.status == "approved"
    assert fresh.attempt == 2
    assert fresh.retries == 0
    assert fresh.error_message is None


async def test_insufficient_credits_is_402(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    model: RenderModel,
) -> None:
    poor = await make_actor(session, settings, credits=1)
    row = await create_job(session, poor.user)
    await session.commit()

    response = await post_generate(client, poor.headers, vid2vid(row, model))

    assert response.status_code == 402
    assert response.json()["error"]["code"] == 1011
    assert (await reload(session, row.id)).status == "pending"
    assert await available(session, poor.user.id) == (0, 1)


async def test_generate_served_at_root(
    client: httpx.AsyncClient, owner: Actor, job: VideoJob, model: RenderModel
) -> None:
    response = await client.post(
        "/generate", headers=owner.headers, json=vid2vid(job, model)
    )

    assert response.status_code == 200


async def test_deeply_nested_body_rejected(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.post(
        "/api/generate",
        headers={**owner.headers, "Content-Type": "application/json"},
        content=b"[" * 100_000 + b"]" * 100_000,
    )

    assert response.status_code == 422
