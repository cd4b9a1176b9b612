"""Placement and ETA: the simulation, and positions that match the claim order."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.core.db import utcnow
from mage_studio.queue.placement import LiveWorker, QueuedJob, RunningJob, simulate
from mage_studio.queue.timing import render_frame_count, size_class
from mage_studio.users.models import User
from tests.conftest import make_settings
from tests.queue.conftest import WorkerCredentials
from tests.queue.factories import claim, create_job, create_jobs

REDIS_URL = "redis://127.0.0.1:6379/11"


def _job(job_id: int, cost: float, queue_name: str = "low", **kw: str) -> QueuedJob:
    return QueuedJob(
        id=job_id,
        queue_name=queue_name,
        generator=kw.get("generator", "vid2vid"),
        model=kw.get("model"),
        cost=cost,
    )


def _worker(name: str, *queues: str, models: tuple[str, ...] = ()) -> LiveWorker:
    return LiveWorker(name=name, queues=frozenset(queues), models=frozenset(models))


def test_simulation_spreads_jobs_over_workers() -> None:
    queued = [_job(1, 10), _job(2, 10), _job(3, 10)]
    workers = [_worker("a", "low"), _worker("b", "low")]

    result = simulate(queued, [], workers)

    first, second, third = (result.placements[job_id] for job_id in (1, 2, 3))
    assert (first.position, second.position, third.position) == (1, 2, 3)
    assert (first.start_in, second.start_in, third.start_in) == (0, 0, 10)
    assert third.finish_in == 20
    assert result.estimated_time_for_all_jobs == 20
    assert result.total_jobs_in_queue == 3


def test_simulation_starts_after_running_jobs() -> None:
    running = [RunningJob(id=9, remaining=30, worker_name="a")]

    result = simulate([_job(1, 5)], running, [_worker("a", "low")])

    assert result.placements[1].start_in == 30
    assert result.placements[1].finish_in == 35
    assert result.total_jobs_processing == 1
    assert result.estimated_time_processing_jobs == 30


def test_simulation_respects_capability_pools() -> None:
    queued = [_job(1, 10, model="xl"), _job(2, 10, model="sd15"), _job(3, 10)]
    workers = [_worker("xl-box", "low", models=("xl",)), _worker("any", "low")]

    result = simulate(queued, [], workers)

    # The "any" worker takes job 2 at once; job 3 waits for whichever frees first.
    assert result.placements[1].start_in == 0
    assert result.placements[2].start_in == 0
    assert result.placements[3].start_in == 10


def test_simulation_without_workers_uses_a_stand_in() -> None:
    result = simulate([_job(1, 4), _job(2, 6)], [], [])

    assert result.placements[2].start_in == 4
    assert result.estimated_time_for_all_jobs == 10


def test_simulation_places_jobs_no_live_worker_serves() -> None:
    queued = [_job(1, 5, queue_name="critical"), _job(2, 5, queue_name="low")]

    result = simulate(queued, [], [_worker("low-only", "low")])

    assert result.placements[1].start_in == 0
    assert result.placements[2].start_in == 0
    assert result.placements[1].position == 1


def test_size_class_and_frame_counts() -> None:
    assert size_class(512, 512) == 512
    assert size_class(496, 528) == 512
    assert size_class(1024, 1024) == 1024
    assert render_frame_count("preview", 240, None, {"frameCount": 6}) == 6
    assert render_frame_count("preview", 240, None, None) == 1
    assert render_frame_count("full", 240, None, {"frameCount": 6}) == 240
    assert render_frame_count("full", None, 90, None) == 90


async def test_positions_match_claim_order(
    app: FastAPI, session: AsyncSession, owner: User, worker: WorkerCredentials
) -> None:
    names = random.Random(11).choices(["critical", "medium", "low"], k=40)
    # Insert in shuffled queued_at order so neither insertion nor id order helps.
    start = utcnow() - timedelta(hours=1)
    offsets = random.Random(12).sample(range(40), k=40)
    for name, offset in zip(names, offsets, strict=True):
        await create_job(
            session, owner, queue_name=name, queued_at=start + timedelta(seconds=offset)
        )
    await session.commit()

    await app.state.queue_snapshot.refresh()
    placements = {}
    for job_id in range(1, 200):
        placement = await app.state.queue_snapshot.placement(job_id)
        if placement is not None:
            placements[job_id] = placement
    claimed = []
    while (spec := await claim(app, worker.id)) is not None:
        claimed.append(spec.job_id)

    assert len(claimed) == 40
    by_position = sorted(
        placements, key=lambda job_id: placements[job_id]["your_position"]
    )
    assert by_position == claimed
    totals = await app.state.queue_snapshot.totals()
    assert totals["total_jobs_in_queue"] == 40


async def test_placement_has_contract_keys(
    app: FastAPI, session: AsyncSession, owner: User
) -> None:
    first, second = await create_jobs(session, owner, ["low", "low"], frame_count=5)
    await session.commit()

    await app.state.queue_snapshot.refresh()
    placement = await app.state.queue_snapshot.placement(second.id)

    assert placement is not None
    assert set(placement) == {
        "your_position",
        "your_estimated_time",
        "estimated_start_in",
        "estimated_finish_in",
        "total_jobs_processing",
        "total_jobs_in_queue",
        "estimated_time_processing_jobs",
        "estimated_time_for_all_jobs",
    }
    seconds = app.state.settings.default_seconds_per_frame * 5
    assert placement["your_position"] == 2
    assert placement["your_estimated_time"] == round(seconds)
    assert placement["estimated_start_in"] == round(seconds)
    assert await app.state.queue_snapshot.placement(first.id + 1000) is None


@pytest.mark.redis
async def test_snapshot_is_shared_through_redis(
    database_url: str,
    storage_root: Path,
    session: AsyncSession,
    owner: User,
) -> None:
    redis = pytest.importorskip("redis.asyncio")
    settings = make_settings(database_url, storage_root, redis_url=REDIS_URL)
    writer, reader = create_app(settings), create_app(settings)
    jobs = await create_jobs(session, owner, ["low", "critical", "medium"])
    await session.commit()
    try:
        async with (
            writer.router.lifespan_context(writer),
            reader.router.lifespan_context(reader),
        ):
            await writer.state.queue_snapshot.refresh()
            shared = await reader.state.queue_snapshot.placement(jobs[0].id)
            local = writer.state.queue_snapshot.placements[jobs[0].id]
            totals = await reader.state.queue_snapshot.totals()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")
    finally:
        for app in (writer, reader):
            await app.state.database.dispose()

    assert shared is not None
    assert shared["your_position"] == local.position == 3
    assert totals["total_jobs_in_queue"] == 3
