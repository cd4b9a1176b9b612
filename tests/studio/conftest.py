"""Fixtures of the studio tests: funded users and a finished job to work on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import VideoJob
from mage_studio.users.models import User
from tests.billing.factories import fund
from tests.factories import auth_headers, create_user
from tests.studio.factories import finished_job, write_png

STARTING_CREDITS = 100


@dataclass
class Actor:
    user: User
    headers: dict[str, str]


async def make_actor(session: AsyncSession, settings: Settings) -> Actor:
    """Insert a user with STARTING_CREDITS, commit, and return it with its headers."""
    user = await create_user(session)
    await fund(session, user, credits=STARTING_CREDITS)
    await session.commit()
    return Actor(user, auth_headers(settings, user))


@pytest.fixture
async def actor(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings)


@pytest.fixture
async def stranger(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings)


@pytest.fixture
async def finished(
    app: FastAPI, session: AsyncSession, actor: Actor, tmp_path: Path
) -> VideoJob:
    """A finished one-second job of the actor, with audio."""
    job = await finished_job(app, session, actor.user, tmp_path / "finished")
    await session.commit()
    return job


async def upload_watermark(
    client: httpx.AsyncClient, actor: Actor, folder: Path
) -> None:
    logo = write_png(folder / "logo.png")
    response = await client.post(
        "/api/studio/watermark",
        headers=actor.headers,
        files={"watermark": ("logo.png", logo.read_bytes(), "image/png")},
    )
    assert response.status_code == 201, response.text
