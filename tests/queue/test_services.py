"""Background work: leader election, and the reaper and snapshot under lifespan."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import Database, utcnow
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue.leader import AlwaysLeader, PostgresLeader, RedisLeader
from mage_studio.users.models import User
from tests.queue.conftest import WorkerCredentials
from tests.queue.factories import claim, create_jobs, reload

REDIS_URL = "redis://127.0.0.1:6379/11"


async def test_postgres_leader_is_exclusive(
    database_url: str, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("advisory locks need PostgreSQL")
    first_db, second_db = Database(database_url), Database(database_url)
    first, second = PostgresLeader(first_db), PostgresLeader(second_db)
    try:
        assert await first.acquire() is True
        assert await second.acquire() is False
        assert await first.acquire() is True
        await first.release()
        assert await second.acquire() is True
    finally:
        await first.release()
        await second.release()
        await first_db.dispose()
        await second_db.dispose()


@pytest.mark.redis
async def test_redis_leader_is_exclusive() -> None:
    redis_asyncio = pytest.importorskip("redis.asyncio")
    client = redis_asyncio.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")
    first, second = RedisLeader(client, 30), RedisLeader(client, 30)
    try:
        assert await first.acquire() is True
        assert await second.acquire() is False
        assert await first.acquire() is True
        await first.release()
        assert await second.acquire() is True
    finally:
        await first.release()
        await second.release()
        await client.aclose()


async def test_single_process_is_always_leader() -> None:
    assert await AlwaysLeader().acquire() is True


async def _wait_for_status(session: AsyncSession, job: VideoJob, status: str) -> None:
    # Polls the row while the background service works; bounded so a broken
    # service fails the test.
    for _ in range(200):
        await reload(session, job)
        if job.status == status:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"job {job.id} stayed {job.status}, expected {status}")


async def test_background_service_reaps_and_snapshots(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    app.state.settings.reaper_interval_seconds = 0.05
    app.state.settings.queue_snapshot_seconds = 0.05
    expired, queued = await create_jobs(session, owner, ["low", "low"])
    await session.commit()
    spec = await claim(app, worker.id)
    assert spec is not None
    assert spec.job_id == expired.id
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == expired.id)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()

    async with app.router.lifespan_context(app):
        await _wait_for_status(session, expired, JobStatus.APPROVED.value)
        for _ in range(200):
            placement = await app.state.queue_snapshot.placement(queued.id)
            if placement is not None and placement["total_jobs_in_queue"] == 2:
                break
            await asyncio.sleep(0.05)

    assert expired.retries == 1
    assert placement is not None
    assert placement["your_position"] == 2
