"""Benchmark the queue: status placement at a large queue, and claim throughput.

Not a test: it prints figures. It recreates the database named in `--database-url`
(default `mage_bench_queue` on the local PostgreSQL), so never point it at real data.

    .venv/bin/python bench/bench_queue.py [--jobs 100000] [--workers 16] [--seconds 10]

1. Queues `--jobs` approved jobs over the three queues and times one computation of
   the placement snapshot. Then it times three calls per random job id: the snapshot
   look-up (`queue_snapshot.placement`, what `/status` reads), a primary-key fetch of
   the job row, and, for contrast, the position counted by SQL.
2. Runs `--workers` concurrent claimers (each claim its own transaction, as the
   worker API does) against the queue for at most `--seconds`, and reports claims
   per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import bench_settings, recreate_database
from sqlalchemy import func, insert, make_url, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.core.db import utcnow
from mage_studio.core.migrations import upgrade
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue import service, tokens
from mage_studio.queue.dialects import ClaimFilter
from mage_studio.users.models import User

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/mage_bench_queue"
INSERT_CHUNK = 5000
QUEUES = ("critical", "medium", "low")


async def _insert_jobs(session: AsyncSession, count: int) -> int:
    user = User(email="bench@example.com", login="bench", password_hash="x")
    session.add(user)
    await session.flush()
    start = utcnow() - timedelta(days=1)
    rng = random.Random(1)
    for offset in range(0, count, INSERT_CHUNK):
        rows = []
        for index in range(offset, min(count, offset + INSERT_CHUNK)):
            queue = rng.choices(QUEUES, weights=(1, 3, 6))[0]
            rows.append(
                {
                    "user_id": user.id,
                    "generator": "vid2vid",
                    "status": JobStatus.APPROVED.value,
                    "render_kind": "full",
                    "queue_name": queue,
                    "priority": QUEUES.index(queue),
                    "queued_at": start + timedelta(milliseconds=index),
                    "width": 512,
                    "height": 512,
                    "frame_count": rng.randint(24, 480),
                    "created_at": start,
                    "updated_at": start,
                }
            )
        await session.execute(insert(VideoJob), rows)
    await session.commit()
    if session.get_bind().dialect.name == "postgresql":
        # Autovacuum would analyze the table after such a bulk load; without fresh
        # statistics the planner sorts the whole queue instead of using the
        # claim-order index.
        await session.execute(text("ANALYZE video_jobs"))
        await session.commit()
    return user.id


async def _time_calls(
    calls: int, call: Callable[[int], Awaitable[Any]], ids: list[int]
) -> list[float]:
    timings = []
    for index in range(calls):
        job_id = ids[index % len(ids)]
        started = time.perf_counter()
        await call(job_id)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _report(label: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p50 = statistics.median(ordered)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(f"  {label:<42} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   n={len(ordered)}")


async def bench_status(app: Any, jobs: int, calls: int) -> None:
    database = app.state.database
    async with database.session() as session:
        await _insert_jobs(session, jobs)
        ids = list((await session.scalars(select(VideoJob.id))).all())
    random.Random(2).shuffle(ids)

    started = time.perf_counter()
    await app.state.queue_snapshot.refresh()
    print(
        f"  snapshot of {jobs} queued jobs computed in "
        f"{time.perf_counter() - started:.2f} s"
    )

    snapshot = app.state.queue_snapshot
    _report(
        "placement(job_id) from the snapshot",
        await _time_calls(calls, snapshot.placement, ids),
    )

    async def fetch(job_id: int) -> None:
        async with database.sessionmaker() as session:
            await session.get(VideoJob, job_id)

    _report("primary-key fetch of the job row", await _time_calls(calls, fetch, ids))

    async def count_ahead(job_id: int) -> None:
        async with database.sessionmaker() as session:
            job = await session.get(VideoJob, job_id)
            assert job is not None
            order = tuple_(VideoJob.priority, VideoJob.queued_at, VideoJob.id)
            ahead = tuple_(job.priority, job.queued_at, job.id)
            await session.scalar(
                select(func.count())
                .select_from(VideoJob)
                .where(VideoJob.status == JobStatus.APPROVED.value, order < ahead)
            )

    _report(
        "position counted by SQL (for contrast)",
        await _time_calls(max(20, calls // 20), count_ahead, ids),
    )


async def bench_claims(app: Any, workers: int, seconds: float) -> None:
    async with app.state.database.session() as session:
        token = (await tokens.create_token(session, "bench")).record.id
    settings = app.state.settings
    deadline = time.perf_counter() + seconds
    claimed: list[int] = []

    async def claimer(number: int) -> None:
        request = service.ClaimRequestData(
            worker_name=f"bench-{number}",
            token_id=token,
            claim_filter=ClaimFilter(
                queues=service.queue_names(settings), generators=[], models=[]
            ),
            wait=0,
        )
        while time.perf_counter() < deadline:
            spec = await service.claim_job(app, request)
            if spec is None:
                return
            claimed.append(spec.job_id)

    started = time.perf_counter()
    await asyncio.gather(*(claimer(number) for number in range(workers)))
    elapsed = time.perf_counter() - started
    duplicates = len(claimed) - len(set(claimed))
    print(
        f"  {workers} workers: {len(claimed)} claims in {elapsed:.2f} s = "
        f"{len(claimed) / elapsed:.0f} claims/s, duplicates: {duplicates}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    if args.database_url.startswith("postgresql"):
        await recreate_database(args.database_url)
    await asyncio.to_thread(upgrade, args.database_url)
    print(
        f"queue benchmark: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{make_url(args.database_url).render_as_string()}"
    )
    with tempfile.TemporaryDirectory() as storage:
        app = create_app(
            bench_settings(args.database_url, Path(storage), args.workers + 4)
        )
        try:
            print(f"status placement with {args.jobs} queued jobs:")
            await bench_status(app, args.jobs, args.calls)
            print(f"claim throughput (at most {args.seconds:.0f} s):")
            await bench_claims(app, args.workers, args.seconds)
        finally:
            await app.state.database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
