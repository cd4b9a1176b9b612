"""Video jobs and the catalogs they draw from.

The job row is also the queue entry: `queue_name`, `priority`, `queued_at` and the lease
columns are read by the claim statement, so there is no second store to drift from it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mage_studio.core.db import Base, Float64, TimestampMixin, UtcDateTime


class JobStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    PROCESSING = "processing"
    PREVIEW = "preview"
    FINISHED = "finished"
    ERROR = "error"
    CANCELLED = "cancelled"


class Generator(StrEnum):
    VID2VID = "vid2vid"
    DEFORUM = "deforum"
    # Exports, compositions and audio edits of finished jobs (the studio domain).
    STUDIO = "studio"


class RenderKind(StrEnum):
    PREVIEW = "preview"
    FULL = "full"


class SourceKind(StrEnum):
    VIDEO = "video"
    IMAGE = "image"
    GIF = "gif"


class RenderModel(TimestampMixin, Base):
    """A Stable Diffusion checkpoint that renders can use."""

    __tablename__ = "render_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    backend_name: Mapped[str] = mapped_column(String(255))
    base: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    credits_per_frame: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class DeforumPreset(TimestampMixin, Base):
    """A named Deforum motion preset: the schedule values it sets."""

    __tablename__ = "deforum_presets"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class VideoJob(TimestampMixin, Base):
    __tablename__ = "video_jobs"
    __table_args__ = (
        # The claim statement's order: strict priority, then FIFO.
        Index("ix_video_jobs_claim_order", "status", "priority", "queued_at", "id"),
        Index("ix_video_jobs_user_created", "user_id", "created_at"),
        Index("ix_video_jobs_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("render_models.id", ondelete="SET NULL"), default=None
    )
    preset_id: Mapped[int | None] = mapped_column(
        ForeignKey("deforum_presets.id", ondelete="SET NULL"), default=None
    )
    extend_from_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("video_jobs.id", ondelete="SET NULL"), default=None
    )
    generator: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)
    revision: Mapped[int] = mapped_column(Integer, default=0)

    # Queue entry and lease.
    render_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    # Frames the queued or running render produces: the preview frames of a preview,
    # `frame_count` of a full render. Credits are reserved for exactly these frames.
    render_frames: Mapped[int | None] = mapped_column(Integer, default=None)
    credits_reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    queue_name: Mapped[str | None] = mapped_column(String(64), default=None)
    priority: Mapped[int | None] = mapped_column(Integer, default=None)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)

    # Progress as reported by the worker.
    progress: Mapped[float] = mapped_column(Float64, default=0.0)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    job_time: Mapped[float] = mapped_column(Float64, default=0.0)
    estimated_time_left: Mapped[float] = mapped_column(Float64, default=0.0)

    # Generation parameters (the full request is kept in generation_parameters).
    prompt: Mapped[str | None] = mapped_column(Text, default=None)
    negative_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    cfg_scale: Mapped[float | None] = mapped_column(Float64, default=None)
    steps: Mapped[int | None] = mapped_column(Integer, default=None)
    denoising: Mapped[float | None] = mapped_column(Float64, default=None)
    seed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    controlnet: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    generation_parameters: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, default=None
    )
    steering: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Deforum: the preset's settings with the user's overrides applied.
    deforum_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    # Output geometry; fps is kept as an exact fraction.
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    fps_num: Mapped[int | None] = mapped_column(Integer, default=None)
    fps_den: Mapped[int | None] = mapped_column(Integer, default=None)
    frame_count: Mapped[int | None] = mapped_column(Integer, default=None)
    length: Mapped[float | None] = mapped_column(Float64, default=None)

    # The uploaded source, as probed by decoding it.
    source_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    source_key: Mapped[str | None] = mapped_column(String(512), default=None)
    source_width: Mapped[int | None] = mapped_column(Integer, default=None)
    source_height: Mapped[int | None] = mapped_column(Integer, default=None)
    source_rotation: Mapped[int] = mapped_column(Integer, default=0)
    source_fps_num: Mapped[int | None] = mapped_column(Integer, default=None)
    source_fps_den: Mapped[int | None] = mapped_column(Integer, default=None)
    source_frame_count: Mapped[int | None] = mapped_column(Integer, default=None)
    source_duration: Mapped[float | None] = mapped_column(Float64, default=None)
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    codec: Mapped[str | None] = mapped_column(String(64), default=None)
    audio_codec: Mapped[str | None] = mapped_column(String(64), default=None)
    bitrate: Mapped[int | None] = mapped_column(BigInteger, default=None)
    mimetype: Mapped[str | None] = mapped_column(String(128), default=None)
    original_filename: Mapped[str | None] = mapped_column(String(255), default=None)
    soundtrack_key: Mapped[str | None] = mapped_column(String(512), default=None)

    # Render outputs (storage keys).
    video_key: Mapped[str | None] = mapped_column(String(512), default=None)
    preview_img_key: Mapped[str | None] = mapped_column(String(512), default=None)
    preview_animation_key: Mapped[str | None] = mapped_column(String(512), default=None)
    thumbnail_key: Mapped[str | None] = mapped_column(String(512), default=None)
    last_frame_key: Mapped[str | None] = mapped_column(String(512), default=None)
    # Gallery renditions of the finished video: rendition name -> storage key.
    renditions: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)

    @property
    def fps(self) -> Fraction | None:
        if self.fps_num is None or not self.fps_den:
            return None
        return Fraction(self.fps_num, self.fps_den)

    @property
    def source_fps(self) -> Fraction | None:
        if self.source_fps_num is None or not self.source_fps_den:
            return None
        return Fraction(self.source_fps_num, self.source_fps_den)


class SdInstance(TimestampMixin, Base):
    """A Stable Diffusion WebUI/Forge (or ComfyUI) instance workers can render on."""

    __tablename__ = "sd_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    url: Mapped[str] = mapped_column(String(1024))
    type: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
