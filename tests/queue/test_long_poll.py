"""Long-poll claims: 204 after the wait, early wake-up when a job is queued."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.core.routing import after_commit, commit_and_run_callbacks
from mage_studio.jobs.models import VideoJob
from mage_studio.queue import service
from mage_studio.queue.notifier import QUEUED_CHANNEL, QueueNotifier, notify_queued
from mage_studio.users.models import User
from tests.conftest import make_settings
from tests.queue.conftest import WorkerCredentials
from tests.queue.factories import claim, claim_http, create_job

REDIS_URL = "redis://127.0.0.1:6379/11"
# Generous bound for "promptly": far below the claim's own wait, so a claim that was
# not woken would fail the test instead of passing late.
WAKE_BOUND_SECONDS = 10.0


async def _queue_job(app: FastAPI, session: AsyncSession, owner: User) -> VideoJob:
    # As the jobs domain queues a render: the row, then a wake-up after commit.
    job = await create_job(session, owner)
    after_commit(session, partial(notify_queued, app))
    await commit_and_run_callbacks(session)
    return job


async def test_claim_answers_204_after_wait(
    client: httpx.AsyncClient, worker: WorkerCredentials
) -> None:
    response = await claim_http(client, worker.token, wait=0.2)

    assert response.status_code == 204
    assert response.content == b""


async def test_claim_wakes_when_job_is_queued(
    app: FastAPI,
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the periodic look the claim can only find the job through the wake-up.
    monkeypatch.setattr(service, "POLL_SECONDS", 60.0)
    waiting = asyncio.create_task(claim(app, worker.id, wait=30))
    await asyncio.sleep(0.2)
    assert not waiting.done()

    job = await _queue_job(app, session, owner)

    spec = await asyncio.wait_for(waiting, WAKE_BOUND_SECONDS)
    assert spec is not None
    assert spec.job_id == job.id


async def test_notifier_wakes_on_change_since_generation() -> None:
    notifier = QueueNotifier()
    generation = notifier.generation
    notifier.notify()

    assert await notifier.wait_for_change(generation, timeout=0) is True
    assert await notifier.wait_for_change(notifier.generation, timeout=0.01) is False


@pytest.fixture
async def redis_apps(
    database_url: str, storage_root: Path
) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """Two apps, as two API processes, sharing the database and Redis."""
    redis = pytest.importorskip("redis.asyncio")
    probe = redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except OSError as exc:
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")
    finally:
        await probe.aclose()
    settings = make_settings(database_url, storage_root, redis_url=REDIS_URL)
    first, second = create_app(settings), create_app(settings)
    async with (
        first.router.lifespan_context(first),
        second.router.lifespan_context(second),
    ):
        yield first, second
    for app in (first, second):
        await app.state.database.dispose()


async def _wait_for_subscribers(app: FastAPI, count: int) -> None:
    redis = app.state.queue_redis
    for _ in range(200):
        [(_, subscribers)] = await redis.pubsub_numsub(QUEUED_CHANNEL)
        if subscribers >= count:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"fewer than {count} processes subscribed to {QUEUED_CHANNEL}")


@pytest.mark.redis
async def test_queueing_in_one_process_wakes_claim_in_another(
    redis_apps: tuple[FastAPI, FastAPI],
    session: AsyncSession,
    owner: User,
    worker: WorkerCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer, consumer = redis_apps
    monkeypatch.setattr(service, "POLL_SECONDS", 60.0)
    await _wait_for_subscribers(consumer, 2)
    waiting = asyncio.create_task(claim(consumer, worker.id, wait=30))
    await asyncio.sleep(0.2)
    assert not waiting.done()

    job = await _queue_job(producer, session, owner)

    spec = await asyncio.wait_for(waiting, WAKE_BOUND_SECONDS)
    assert spec is not None
    assert spec.job_id == job.id
