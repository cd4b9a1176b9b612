"""The job spec a worker receives with its claim, built from the job row."""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import (
    DeforumPreset,
    Generator,
    RenderModel,
    SourceKind,
    VideoJob,
)
from mage_studio.queue.schemas import (
    ExtendFromSpec,
    JobSpec,
    ModelSpec,
    RenderParams,
    SourceSpec,
    SteeringValues,
)
from mage_studio.queue.timing import render_frame_count
from mage_studio.studio.models import STUDIO_GENERATOR
from mage_studio.studio.tasks import build_studio_task

log = structlog.get_logger(__name__)

# Signed media URLs in a spec outlive a long render's download retries.
SIGNED_URL_TTL_SECONDS = 6 * 3600


class SignsUrls(Protocol):
    def signed_url(self, key: str, ttl: int) -> str: ...


def fraction_text(numerator: int | None, denominator: int | None) -> str | None:
    if numerator is None or not denominator:
        return None
    return f"{numerator}/{denominator}"


def steering_of(job: VideoJob) -> SteeringValues | None:
    """Return the job's live steering values, or None when unset or unreadable."""
    if not job.steering:
        return None
    try:
        return SteeringValues.model_validate(job.steering)
    except ValidationError:
        log.warning("steering_values_invalid", job_id=job.id)
        return None


async def build_job_spec(
    session: AsyncSession,
    settings: Settings,
    storage: SignsUrls,
    job: VideoJob,
) -> JobSpec:
    assert job.lease_expires_at is not None
    parameters = job.generation_parameters or {}
    return JobSpec(
        job_id=job.id,
        attempt=job.attempt,
        lease_expires_at=job.lease_expires_at,
        heartbeat_interval=float(settings.heartbeat_seconds),
        render=job.render_kind or "full",
        generator=job.generator,
        model=await _model_spec(session, job.model_id),
        params=_render_params(job, parameters),
        deforum=await _deforum_settings(session, job, parameters),
        source=_source_spec(storage, job),
        soundtrack_url=_url(storage, job.soundtrack_key),
        extend_from=await _extend_from(session, storage, job.extend_from_job_id),
        steering=steering_of(job),
        studio=(
            await build_studio_task(session, storage, job)
            if job.generator == STUDIO_GENERATOR
            else None
        ),
    )


def _url(storage: SignsUrls, key: str | None) -> str | None:
    return storage.signed_url(key, SIGNED_URL_TTL_SECONDS) if key else None


async def _model_spec(session: AsyncSession, model_id: int | None) -> ModelSpec | None:
    if model_id is None:
        return None
    model = await session.get(RenderModel, model_id)
    if model is None:
        return None
    return ModelSpec(
        id=model.id,
        name=model.name,
        backend_name=model.backend_name,
        base=model.base,
        width=model.width,
        height=model.height,
    )


def _render_params(job: VideoJob, parameters: dict[str, Any]) -> RenderParams:
    color_match = parameters.get("colorMatch", parameters.get("color_match", True))
    return RenderParams(
        prompt=job.prompt or "",
        negative_prompt=job.negative_prompt or "",
        seed=job.seed or 0,
        cfg_scale=job.cfg_scale,
        denoising=job.denoising,
        steps=job.steps,
        frame_count=render_frame_count(
            job.render_kind, job.frame_count, job.source_frame_count, parameters
        ),
        fps=fraction_text(job.fps_num, job.fps_den),
        length=job.length,
        width=job.width,
        height=job.height,
        color_match=bool(color_match),
        controlnet=job.controlnet,
    )


async def _deforum_settings(
    session: AsyncSession, job: VideoJob, parameters: dict[str, Any]
) -> dict[str, Any] | None:
    """Merge the preset's values with the user's overrides (overrides win)."""
    if job.generator != Generator.DEFORUM.value:
        return None
    merged: dict[str, Any] = {}
    if job.preset_id is not None:
        preset = await session.get(DeforumPreset, job.preset_id)
        if preset is not None:
            merged.update(preset.settings or {})
    overrides = parameters.get("settings")
    if isinstance(overrides, dict):
        merged.update(overrides)
    return merged


def _source_spec(storage: SignsUrls, job: VideoJob) -> SourceSpec | None:
    if not job.source_key:
        return None
    kinds = {kind.value for kind in SourceKind}
    kind = job.source_kind if job.source_kind in kinds else SourceKind.VIDEO.value
    return SourceSpec(
        url=storage.signed_url(job.source_key, SIGNED_URL_TTL_SECONDS),
        kind=kind,
        width=job.source_width,
        height=job.source_height,
        fps=fraction_text(job.source_fps_num, job.source_fps_den),
        frame_count=job.source_frame_count,
        duration=job.source_duration,
        has_audio=job.has_audio,
    )


async def _extend_from(
    session: AsyncSession, storage: SignsUrls, base_id: int | None
) -> ExtendFromSpec | None:
    if base_id is None:
        return None
    base = await session.get(VideoJob, base_id)
    if base is None:
        return None
    return ExtendFromSpec(
        job_id=base.id,
        video_url=_url(storage, base.video_key),
        last_frame_url=_url(storage, base.last_frame_key),
        width=base.width,
        height=base.height,
        fps=fraction_text(base.fps_num, base.fps_den),
        frame_count=base.frame_count,
    )
