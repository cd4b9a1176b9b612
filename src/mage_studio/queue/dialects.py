"""Dialect-specific SQL of the queue: the claim, worker upserts, leader locks.

PostgreSQL and SQLite claim with one statement:
`UPDATE video_jobs SET ... WHERE id = (SELECT id ... ORDER BY priority, queued_at, id
FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, attempt`. On SQLite the `FOR UPDATE`
clause is dropped by the compiler; the transaction already holds the database's write
lock (`BEGIN IMMEDIATE`), so two claimers are serialised. MariaDB/MySQL cannot update a
table it selects from in a subquery and has no `UPDATE ... RETURNING`, so it locks the
row with `SELECT ... FOR UPDATE SKIP LOCKED` and updates it by id in the same
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, text, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mage_studio.core.db import Base
from mage_studio.jobs.models import JobStatus, RenderModel, VideoJob
from mage_studio.queue.models import Worker

# Key of the PostgreSQL advisory lock the queue leader holds ("mage" + "queue").
LEADER_LOCK_KEY = 0x6D616765_71756575 & 0x7FFFFFFFFFFFFFFF


@dataclass(frozen=True)
class ClaimFilter:
    """Queue names a worker serves, and optionally its generators and models."""

    queues: list[str]
    generators: list[str]
    models: list[str]


def claim_order_query(claim_filter: ClaimFilter) -> Select[tuple[int]]:
    """Select the ids of claimable jobs in strict claim order."""
    query = select(VideoJob.id).where(
        VideoJob.status == JobStatus.APPROVED.value,
        VideoJob.queue_name.in_(claim_filter.queues),
    )
    if claim_filter.generators:
        query = query.where(VideoJob.generator.in_(claim_filter.generators))
    if claim_filter.models:
        model_ids = select(RenderModel.id).where(
            RenderModel.name.in_(claim_filter.models)
        )
        # Studio jobs have no model: any worker can run them.
        query = query.where(
            or_(VideoJob.model_id.is_(None), VideoJob.model_id.in_(model_ids))
        )
    return query.order_by(VideoJob.priority, VideoJob.queued_at, VideoJob.id)


def _claim_values(owner: str, now: datetime, lease_until: datetime) -> dict[str, Any]:
    return {
        "status": JobStatus.PROCESSING.value,
        "attempt": VideoJob.attempt + 1,
        "revision": VideoJob.revision + 1,
        "lease_owner": owner,
        "lease_expires_at": lease_until,
        "heartbeat_at": now,
        "started_at": now,
        "finished_at": None,
        "progress": 0.0,
        "frames_done": 0,
        "job_time": 0.0,
        "updated_at": now,
    }


async def claim_next(
    session: AsyncSession,
    claim_filter: ClaimFilter,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
) -> VideoJob | None:
    """Move the first claimable job to processing for `owner` and return it."""
    candidate = (
        claim_order_query(claim_filter).limit(1).with_for_update(skip_locked=True)
    )
    values = _claim_values(owner, now, lease_until)
    dialect = session.get_bind().dialect.name
    if dialect in {"mysql", "mariadb"}:
        return await _claim_in_two_steps(session, candidate, values)

    statement = (
        update(VideoJob)
        .where(
            and_(
                VideoJob.id == candidate.scalar_subquery(),
                VideoJob.status == JobStatus.APPROVED.value,
            )
        )
        .values(**values)
        .returning(VideoJob)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    job: VideoJob | None = (await session.scalars(statement)).first()
    return job


async def _claim_in_two_steps(
    session: AsyncSession, candidate: Select[tuple[int]], values: dict[str, Any]
) -> VideoJob | None:
    # MariaDB 10.6+ has SKIP LOCKED. The row lock taken here holds until the session
    # commits, so no other claimer can select or update the job in between.
    job_id = await session.scalar(candidate)
    if job_id is None:
        return None
    await session.execute(
        update(VideoJob)
        .where(VideoJob.id == job_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return await session.get(VideoJob, job_id, populate_existing=True)


async def upsert(
    session: AsyncSession,
    model: type[Base],
    values: dict[str, Any],
    *,
    key: str,
    changes: dict[str, Any],
) -> None:
    """Insert `values`, or apply `changes` to the row whose unique `key` collides.

    `changes` may use column expressions of the existing row (e.g. `samples + 1`).
    """
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(model).values(**values)
        statement = statement.on_conflict_do_update(index_elements=[key], set_=changes)
    elif dialect == "sqlite":
        statement = sqlite.insert(model).values(**values)
        statement = statement.on_conflict_do_update(index_elements=[key], set_=changes)
    else:
        statement = mysql.insert(model).values(**values)
        statement = statement.on_duplicate_key_update(**changes)
    await session.execute(statement)


async def upsert_worker(
    session: AsyncSession,
    *,
    name: str,
    token_id: int,
    queues: list[str],
    capabilities: dict[str, Any],
    current_job_id: int | None,
    now: datetime,
) -> None:
    """Insert the worker row for `name` or refresh it, in one statement."""
    values = {
        "name": name,
        "token_id": token_id,
        "queues": queues,
        "capabilities": capabilities,
        "current_job_id": current_job_id,
        "last_seen_at": now,
        "created_at": now,
        "updated_at": now,
    }
    changes = {key: values[key] for key in values if key not in {"name", "created_at"}}
    await upsert(session, Worker, values, key="name", changes=changes)


async def try_advisory_lock(connection: AsyncConnection) -> bool:
    """Take the leader lock on this connection if free (PostgreSQL only)."""
    result = await connection.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
    )
    return bool(result.scalar())


async def release_advisory_lock(connection: AsyncConnection) -> None:
    await connection.execute(
        text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY}
    )


async def holds_advisory_lock(connection: AsyncConnection) -> bool:
    """Check that this connection still holds the leader lock."""
    result = await connection.execute(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = :key"
        ),
        {"key": LEADER_LOCK_KEY},
    )
    return bool(result.scalar())
