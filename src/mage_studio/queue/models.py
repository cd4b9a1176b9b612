"""Worker identities, render attempts and the timing statistics behind ETAs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mage_studio.core.db import Base, Float64, TimestampMixin, UtcDateTime


class WorkerToken(TimestampMixin, Base):
    """A credential a render worker authenticates with; only its hash is stored."""

    __tablename__ = "worker_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Worker(TimestampMixin, Base):
    """A live worker as last seen through claims and heartbeats."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(
        ForeignKey("worker_tokens.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(128), unique=True)
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    current_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("video_jobs.id", ondelete="SET NULL"), default=None
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class RenderTiming(Base):
    """Moving average of seconds per frame per (generator, model, size class)."""

    __tablename__ = "render_timings"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    seconds_per_frame: Mapped[float] = mapped_column(Float64)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class RenderRun(Base):
    """One attempt at rendering a job: who ran it, how it ended, what it applied.

    The per-frame steering values a worker reports are kept here so a steered render
    can be reproduced.
    """

    __tablename__ = "render_runs"
    __table_args__ = (UniqueConstraint("job_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unique (job_id, attempt) constraint's index also serves lookups by job.
    job_id: Mapped[int] = mapped_column(ForeignKey("video_jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    render_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    worker_name: Mapped[str] = mapped_column(String(128))
    # processing, then preview, finished, retry, error, cancelled or expired.
    outcome: Mapped[str] = mapped_column(String(16), default="processing")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    applied_steering: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
