"""Live steering: validation, merging and storage, and what workers receive."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.users.models import User
from tests.factories import auth_headers, create_user
from tests.realtime.factories import create_job, create_worker_token


def _url(job: VideoJob) -> str:
    return f"/api/video-jobs/{job.id}/steering"


async def test_changes_are_merged_stored_and_returned(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, owner: User
) -> None:
    job = await create_job(session, owner)
    await session.commit()
    headers = auth_headers(settings, owner)

    first = await client.patch(
        _url(job),
        json={"translation_z": 0.3, "strength": 0.6, "use_live_strength": True},
        headers=headers,
    )
    second = await client.patch(
        _url(job),
        json={
            "translation_z": None,
            "cfg": 12,
            "ease_frames": 10,
            "ease_curve": "ease",
        },
        headers=headers,
    )
    await session.refresh(job)
    await session.commit()

    assert first.status_code == 200, first.text
    assert first.json()["steering"]["translation_z"] == 0.3
    assert second.status_code == 200, second.text
    values = second.json()["steering"]
    assert values["translation_z"] is None
    assert values["strength"] == 0.6
    assert values["use_live_strength"] is True
    assert values["cfg"] == 12
    assert values["ease_curve"] == "ease"
    assert job.steering == {
        "strength": 0.6,
        "cfg": 12.0,
        "use_live_strength": True,
        "use_live_cfg": False,
        "use_live_prompt": False,
        "ease_frames": 10,
        "ease_curve": "ease",
    }


async def test_queued_job_can_be_steered_before_it_starts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, owner: User
) -> None:
    job = await create_job(session, owner, status=JobStatus.APPROVED.value)
    await session.commit()

    response = await client.patch(
        _url(job), json={"fov": 90}, headers=auth_headers(settings, owner)
    )

    assert response.status_code == 200
    assert response.json()["status"] == "approved"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"strength": 1.5, "fov": 5, "zoom": 1, "ease_curve": "bounce"},
            {"strength", "fov", "zoom", "ease_curve"},
        ),
        ({"steps": True, "use_live_cfg": "yes"}, {"steps", "use_live_cfg"}),
        (
            {"translation_z": -1.01, "noise_multiplier": 0},
            {"translation_z", "noise_multiplier"},
        ),
        ([1, 2], {"body"}),
        (
            {"positive_prompt": "a\x00fox", "negative_prompt": "\x00"},
            {"positive_prompt", "negative_prompt"},
        ),
    ],
)
async def test_invalid_values_get_422_with_field_messages(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: User,
    body: Any,
    fields: set[str],
) -> None:
    job = await create_job(session, owner)
    await session.commit()

    response = await client.patch(
        _url(job), json=body, headers=auth_headers(settings, owner)
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == 422
    assert set(error["validator"]) == fields
    assert error["message"]


async def test_range_message_names_the_range(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, owner: User
) -> None:
    job = await create_job(session, owner)
    await session.commit()

    response = await client.patch(
        _url(job), json={"cfg": 31}, headers=auth_headers(settings, owner)
    )

    assert response.json()["error"]["validator"] == {
        "cfg": ["cfg must be a number from 1 to 30."]
    }


@pytest.mark.parametrize(
    ("status", "generator"),
    [
        ("pending", "deforum"),
        ("preview", "deforum"),
        ("finished", "deforum"),
        ("cancelled", "deforum"),
        ("processing", "vid2vid"),
    ],
)
async def test_only_queued_or_rendering_deforum_jobs_can_be_steered(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: User,
    status: str,
    generator: str,
) -> None:
    job = await create_job(session, owner, status=status, generator=generator)
    await session.commit()

    response = await client.patch(
        _url(job), json={"strength": 0.5}, headers=auth_headers(settings, owner)
    )

    assert response.status_code == 409
    assert response.json()["error"]["message"]


async def test_another_users_job_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, owner: User
) -> None:
    job = await create_job(session, owner)
    stranger = await create_user(session)
    await session.commit()
    headers = auth_headers(settings, stranger)

    patched = await client.patch(_url(job), json={"strength": 2}, headers=headers)
    read = await client.get(_url(job), headers=headers)
    anonymous = await client.patch(_url(job), json={"strength": 0.5})

    assert patched.status_code == 404
    assert read.status_code == 404
    assert anonymous.status_code == 401


async def test_worker_receives_values_and_applied_values_are_kept_per_frame(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, owner: User
) -> None:
    job = await create_job(session, owner, status=JobStatus.APPROVED.value)
    worker = {"Authorization": f"Bearer {await create_worker_token(session)}"}
    await session.commit()
    headers = auth_headers(settings, owner)
    claim = await client.post(
        "/api/workers/claim", json={"worker_name": "gpu-s", "wait": 0}, headers=worker
    )
    assert claim.status_code == 200, claim.text
    assert claim.json()["steering"] is None

    await client.patch(_url(job), json={"translation_z": 0.4}, headers=headers)
    beat = await client.post(
        f"/api/workers/jobs/{job.id}/heartbeat",
        json={
            "attempt": 1,
            "frames_done": 2,
            "applied": {"0": {"zoom": 1.0}, "1": {"zoom": 1.4}},
        },
        headers=worker,
    )
    read = await client.get(_url(job), headers=headers)

    assert beat.status_code == 200, beat.text
    assert beat.json()["steering"]["translation_z"] == 0.4
    assert read.status_code == 200
    assert read.json()["applied"] == {"0": {"zoom": 1.0}, "1": {"zoom": 1.4}}
    assert read.json()["steering"]["translation_z"] == 0.4


async def test_deeply_nested_body_gets_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, owner: User
) -> None:
    job = await create_job(session, owner)
    await session.commit()
    body = '{"strength": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = await client.patch(
        _url(job),
        content=body,
        headers={**auth_headers(settings, owner), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert "body" in response.json()["error"]["validator"]


async def test_prompt_with_nul_is_not_stored(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, owner: User
) -> None:
    job = await create_job(session, owner)
    await session.commit()

    response = await client.patch(
        _url(job),
        json={"positive_prompt": "a\x00fox"},
        headers=auth_headers(settings, owner),
    )

    assert response.status_code == 422
    await session.refresh(job)
    assert not job.steering
