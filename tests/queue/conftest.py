"""Fixtures of the queue tests: an owner of jobs, a worker token and claimed jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from mage_studio.queue import tokens
from mage_studio.users.models import User
from tests.factories import create_user
from tests.queue.factories import claim, create_job, reload


@dataclass(frozen=True)
class WorkerCredentials:
    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    user = await create_user(session)
    await session.commit()
    return user


@pytest.fixture
async def worker(session: AsyncSession) -> WorkerCredentials:
    issued = await tokens.create_token(session, "test-gpu")
    await session.commit()
    return WorkerCredentials(id=issued.record.id, token=issued.token)


@dataclass(frozen=True)
class WorkerJobApi:
    """Client of the per-job worker routes that sends the worker's token."""

    client: httpx.AsyncClient
    worker: WorkerCredentials

    async def post(self, job_id: int, action: str, **request: Any) -> httpx.Response:
        """POST `json`, `data` or `files` to `/api/workers/jobs/{job_id}/{action}`."""
        return await self.client.post(
            f"/api/workers/jobs/{job_id}/{action}",
            headers=self.worker.headers,
            **request,
        )


ClaimNewJob = Callable[..., Awaitable[VideoJob]]


@pytest.fixture
def worker_api(client: httpx.AsyncClient, worker: WorkerCredentials) -> WorkerJobApi:
    return WorkerJobApi(client, worker)


@pytest.fixture
def claim_new_job(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> ClaimNewJob:
    """Insert a job of `owner` with the given column values and claim it as gpu-01."""

    async def claim_new(**values: Any) -> VideoJob:
        job = await create_job(session, owner, **values)
        await session.commit()
        spec = await claim(app, worker.id, "gpu-01")
        assert spec is not None
        assert spec.job_id == job.id
        await reload(session, job)
        return job

    return claim_new


@pytest.fixture
async def claimed_job(claim_new_job: ClaimNewJob) -> VideoJob:
    """A default queued job, claimed by `worker` as gpu-01."""
    return await claim_new_job()
