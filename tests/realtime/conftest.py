"""Fixtures of the realtime tests: a job owner and job, a live server, its client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import VideoJob
from mage_studio.users.models import User
from tests.conftest import make_settings
from tests.factories import auth_headers, create_user
from tests.realtime.factories import create_job, live_server


@pytest.fixture
def settings(database_url: str, storage_root) -> Settings:  # type: ignore[no-untyped-def]
    # Long waits between database checks keep the event order of a test fixed:
    # everything a stream sends comes from what the test publishes.
    return make_settings(
        database_url,
        storage_root,
        sse_poll_seconds=60.0,
        sse_throttle_seconds=0.0,
        queue_snapshot_seconds=60.0,
        rate_limit_enabled=False,
    )


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    user = await create_user(session)
    await session.commit()
    return user


@pytest.fixture
def owner_headers(settings: Settings, owner: User) -> dict[str, str]:
    return auth_headers(settings, owner)


@pytest.fixture
async def job(session: AsyncSession, owner: User) -> VideoJob:
    """A processing Deforum job of `owner`, committed."""
    row = await create_job(session, owner)
    await session.commit()
    return row


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    async with live_server(app) as url:
        yield url


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=20) as client:
        yield client
