"""The placement snapshot that status calls read in O(1).

The queue leader recomputes it every `queue_snapshot_seconds` (see hooks.py) from the
database and keeps it in process. With Redis configured, the leader also writes it to
a Redis hash that every API process reads. `app.state.queue_snapshot` is a
`QueueSnapshot`. Start and finish estimates are counted down by the snapshot's age
when read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.db import Database, utcnow
from mage_studio.jobs.models import JobStatus, RenderKind, RenderModel, VideoJob
from mage_studio.queue.models import RenderTiming, Worker
from mage_studio.queue.placement import (
    LiveWorker,
    Placement,
    QueuedJob,
    RunningJob,
    Simulation,
    simulate,
)
from mage_studio.queue.timing import TimingTable, render_frame_count

log = structlog.get_logger(__name__)

PLACEMENT_KEY = "mage:queue:placement"
META_KEY = "mage:queue:placement:meta"
REDIS_CHUNK = 5000

TOTAL_KEYS = (
    "total_jobs_processing",
    "total_jobs_in_queue",
    "estimated_time_processing_jobs",
    "estimated_time_for_all_jobs",
)


@dataclass(frozen=True)
class Totals:
    total_jobs_processing: int = 0
    total_jobs_in_queue: int = 0
    estimated_time_processing_jobs: float = 0.0
    estimated_time_for_all_jobs: float = 0.0

    @classmethod
    def of(cls, simulation: Simulation) -> Totals:
        return cls(
            total_jobs_processing=simulation.total_jobs_processing,
            total_jobs_in_queue=simulation.total_jobs_in_queue,
            estimated_time_processing_jobs=simulation.estimated_time_processing_jobs,
            estimated_time_for_all_jobs=simulation.estimated_time_for_all_jobs,
        )

    def as_dict(self, age: float) -> dict[str, int]:
        return {
            "total_jobs_processing": self.total_jobs_processing,
            "total_jobs_in_queue": self.total_jobs_in_queue,
            "estimated_time_processing_jobs": _seconds(
                self.estimated_time_processing_jobs - age
            ),
            "estimated_time_for_all_jobs": _seconds(
                self.estimated_time_for_all_jobs - age
            ),
        }


def _seconds(value: float) -> int:
    return max(0, round(value))


def placement_dict(placement: Placement, totals: Totals, age: float) -> dict[str, int]:
    """Build the CONTRACT `queue` object of one approved job."""
    return {
        "your_position": placement.position,
        "your_estimated_time": _seconds(placement.estimated_time),
        "estimated_start_in": _seconds(placement.start_in - age),
        "estimated_finish_in": _seconds(placement.finish_in - age),
        **totals.as_dict(age),
    }


# --- computing ------------------------------------------------------------------------


async def load_simulation(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> Simulation:
    """Read the queue, the running jobs and the live workers, and simulate."""
    now = now or utcnow()
    model_rows = await session.execute(select(RenderModel.id, RenderModel.name))
    models: dict[int, str] = dict(model_rows.tuples().all())
    timing_rows = await session.execute(
        select(RenderTiming.key, RenderTiming.seconds_per_frame)
    )
    timings = TimingTable(
        dict(timing_rows.tuples().all()),
        settings.default_seconds_per_frame,
    )
    queued = await _load_queued(session, models, timings)
    running = await _load_running(session, timings, now)
    workers = await _load_live_workers(session, settings, now)
    return simulate(queued, running, workers)


async def _load_queued(
    session: AsyncSession, models: Mapping[int, str], timings: TimingTable
) -> list[QueuedJob]:
    preview_frames = await _preview_frame_counts(session)
    jobs = VideoJob.__table__.c
    # A Core query on the connection: ORM row processing would double the time at
    # 100k rows.
    connection = await session.connection()
    rows = await connection.execute(
        select(
            jobs.id,
            jobs.queue_name,
            jobs.generator,
            jobs.model_id,
            jobs.width,
            jobs.height,
            jobs.render_kind,
            jobs.frame_count,
            jobs.source_frame_count,
        )
        .where(jobs.status == JobStatus.APPROVED.value)
        .order_by(jobs.priority, jobs.queued_at, jobs.id)
    )
    preview = RenderKind.PREVIEW.value
    costs: dict[tuple[str, int | None, int | None, int | None], float] = {}
    queued = []
    for row in rows.tuples():
        job_id, queue_name, generator, model_id, width, height = row[:6]
        render_kind, frame_count, source_frame_count = row[6:]
        if render_kind == preview:
            frames = preview_frames.get(job_id, 1)
        else:
            frames = max(1, frame_count or source_frame_count or 1)
        # Seconds per frame only vary by these four, so they are looked up once each.
        cost_key = (generator, model_id, width, height)
        spf = costs.get(cost_key)
        if spf is None:
            spf = timings.seconds_per_frame(generator, model_id, width, height)
            costs[cost_key] = spf
        model = models.get(model_id) if model_id is not None else None
        queued.append(
            QueuedJob(job_id, queue_name or "", generator, model, frames * spf)
        )
    return queued


async def _preview_frame_counts(session: AsyncSession) -> dict[int, int]:
    # Only previews need the JSON parameters (their `frameCount`), so only they load it.
    rows = await session.execute(
        select(VideoJob.id, VideoJob.generation_parameters).where(
            VideoJob.status == JobStatus.APPROVED.value,
            VideoJob.render_kind == RenderKind.PREVIEW.value,
        )
    )
    return {
        job_id: render_frame_count(RenderKind.PREVIEW.value, None, None, parameters)
        for job_id, parameters in rows
    }


async def _load_running(
    session: AsyncSession, timings: TimingTable, now: datetime
) -> list[RunningJob]:
    jobs = await session.scalars(
        select(VideoJob).where(VideoJob.status == JobStatus.PROCESSING.value)
    )
    return [
        RunningJob(
            id=job.id,
            remaining=remaining_seconds(job, timings, now),
            worker_name=job.lease_owner,
        )
        for job in jobs
    ]


def remaining_seconds(job: VideoJob, timings: TimingTable, now: datetime) -> float:
    """Estimate how long a running job still needs.

    Once the worker has rendered a frame, its own ETA (counted down since its
    heartbeat) is used. Before that the estimate is the cost minus the time since the
    claim.
    """
    if job.frames_done > 0 and job.estimated_time_left > 0 and job.heartbeat_at:
        since = (now - job.heartbeat_at).total_seconds()
        return max(0.0, job.estimated_time_left - since)
    frames = render_frame_count(
        job.render_kind,
        job.frame_count,
        job.source_frame_count,
        job.generation_parameters,
    )
    cost = frames * timings.seconds_per_frame(
        job.generator, job.model_id, job.width, job.height
    )
    elapsed = (now - job.started_at).total_seconds() if job.started_at else 0.0
    return max(0.0, cost - elapsed)


async def _load_live_workers(
    session: AsyncSession, settings: Settings, now: datetime
) -> list[LiveWorker]:
    since = now - timedelta(seconds=settings.worker_live_seconds)
    workers = await session.scalars(select(Worker).where(Worker.last_seen_at >= since))
    return [live_worker(worker) for worker in workers]


def live_worker(worker: Worker) -> LiveWorker:
    capabilities = worker.capabilities or {}
    return LiveWorker(
        name=worker.name,
        queues=frozenset(worker.queues or []),
        generators=frozenset(capabilities.get("generators") or []),
        models=frozenset(capabilities.get("models") or []),
    )


# --- storing and reading --------------------------------------------------------------


class QueueSnapshot:
    """The latest placement of every approved job, and the queue totals.

    `placement(job_id)` returns the `queue` object of the job status contract for an
    approved job. It returns None for a job that is not queued or was queued after the
    last computation. `totals()` returns the four totals. Both are async because, with
    Redis, they read the hash the leader wrote.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.placements: dict[int, Placement] = {}
        self.totals_value = Totals()
        self.computed_at: float | None = None

    @property
    def _redis(self) -> Any:
        return getattr(self.app.state, "queue_redis", None)

    async def refresh(self) -> Simulation:
        """Compute a fresh snapshot from the database now and store it."""
        database: Database = self.app.state.database
        settings: Settings = self.app.state.settings
        async with database.session() as session:
            simulation = await load_simulation(session, settings)
        await self.store(simulation)
        return simulation

    async def store(self, simulation: Simulation) -> None:
        computed_at = time.time()
        self.placements = simulation.placements
        self.totals_value = Totals.of(simulation)
        self.computed_at = computed_at
        if self._redis is not None:
            await self._write_redis(simulation, computed_at)

    async def placement(self, job_id: int) -> dict[str, int] | None:
        if self._redis is not None:
            return await self._read_redis(job_id)
        placement = self.placements.get(job_id)
        if placement is None:
            return None
        return placement_dict(placement, self.totals_value, self._age(self.computed_at))

    async def totals(self) -> dict[str, int]:
        if self._redis is not None:
            meta = await self._redis.get(META_KEY)
            totals, computed_at = _decode_meta(meta)
            return totals.as_dict(self._age(computed_at))
        return self.totals_value.as_dict(self._age(self.computed_at))

    @staticmethod
    def _age(computed_at: float | None) -> float:
        return 0.0 if computed_at is None else max(0.0, time.time() - computed_at)

    async def _write_redis(self, simulation: Simulation, computed_at: float) -> None:
        # Written under a temporary key and renamed, so readers never see a mix.
        redis = self._redis
        staging = f"{PLACEMENT_KEY}:next"
        items = [
            (str(job_id), _encode(placement))
            for job_id, placement in simulation.placements.items()
        ]
        pipe = redis.pipeline(transaction=False)
        pipe.delete(staging)
        for start in range(0, len(items), REDIS_CHUNK):
            pipe.hset(staging, mapping=dict(items[start : start + REDIS_CHUNK]))
        if items:
            pipe.rename(staging, PLACEMENT_KEY)
        else:
            pipe.delete(PLACEMENT_KEY)
        pipe.set(META_KEY, _encode_meta(Totals.of(simulation), computed_at))
        await pipe.execute()

    async def _read_redis(self, job_id: int) -> dict[str, int] | None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hget(PLACEMENT_KEY, str(job_id))
        pipe.get(META_KEY)
        encoded, meta = await pipe.execute()
        if encoded is None:
            return None
        totals, computed_at = _decode_meta(meta)
        return placement_dict(_decode(encoded), totals, self._age(computed_at))


def _encode(placement: Placement) -> str:
    return (
        f"{placement.position},{placement.estimated_time:.1f},"
        f"{placement.start_in:.1f},{placement.finish_in:.1f}"
    )


def _decode(encoded: bytes | str) -> Placement:
    text = encoded.decode() if isinstance(encoded, bytes) else encoded
    position, estimated, start, finish = text.split(",")
    return Placement(int(position), float(estimated), float(start), float(finish))


def _encode_meta(totals: Totals, computed_at: float) -> str:
    values: dict[str, Any] = {key: getattr(totals, key) for key in TOTAL_KEYS}
    values["computed_at"] = computed_at
    return json.dumps(values)


def _decode_meta(meta: bytes | str | None) -> tuple[Totals, float | None]:
    if meta is None:
        return Totals(), None
    values = json.loads(meta)
    totals = Totals(**{key: values[key] for key in TOTAL_KEYS})
    return totals, float(values["computed_at"])
