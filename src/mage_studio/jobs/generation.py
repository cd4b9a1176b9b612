"""Generate (queue a preview render) and finalize (queue the full render).

Both follow the same steps. They read `videoId` and load the caller's job (404
otherwise), validate the body, and check that the job's status allows the request
(409/1013). Then they work out the render (model, size, frames, seed, Deforum
settings), reserve its credits (402/1011) and queue it with one compare-and-set.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.errors import InvalidTransition, NotFound
from mage_studio.jobs import charges, repository
from mage_studio.jobs.deforum import merge_settings
from mage_studio.jobs.models import (
    DeforumPreset,
    Generator,
    JobStatus,
    RenderKind,
    RenderModel,
    VideoJob,
)
from mage_studio.jobs.params import (
    MAX_SEED,
    DeforumRequest,
    FinalizeRequest,
    Vid2VidRequest,
    invalid,
    parse,
    read_video_id,
)
from mage_studio.jobs.transitions import (
    FINALIZE_FROM,
    GENERATE_FROM,
    RaceLost,
    compare_and_set,
    queue_values,
    require_status,
)
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

DEFAULT_FPS = 24
DEFAULT_LENGTH = 5.0
DEFAULT_STEPS = 20
MIN_SIDE = 64


@dataclass
class RenderPlan:
    """Column values of the requested render."""

    values: dict[str, Any]
    model: RenderModel
    preview_frames: int
    ignored: list[str] = field(default_factory=list)


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED) + 1


def chosen_seed(requested: int | None, inherited: int | None = None) -> int:
    """Return the seed to store: a positive request, else inherited, else random."""
    if requested is not None:
        return requested if requested > 0 else random_seed()
    return inherited if inherited is not None else random_seed()


def fit_size(width: int, height: int, model: RenderModel) -> tuple[int, int]:
    """Scale a source to the model's native size, keeping its aspect ratio.

    The longer side becomes the longer side of the model's default size; both sides
    are rounded to multiples of 8, as Stable Diffusion requires.
    """
    longest = max(model.width, model.height)
    scale = longest / max(width, height, 1)

    def side(value: int) -> int:
        return max(MIN_SIDE, round(value * scale / 8) * 8)

    return side(width), side(height)


def deforum_frames(length: float, fps: Fraction) -> int:
    return max(1, round(Fraction(length) * fps))


def rate_from(value: float | None) -> Fraction:
    if value is None:
        return Fraction(DEFAULT_FPS)
    return Fraction(value).limit_denominator(1001)


async def _load_job(session: AsyncSession, user: User, body: Any) -> VideoJob:
    video_id = read_video_id(body)
    job = await repository.get_user_job(session, user, video_id, for_update=True)
    if job is None:
        raise NotFound("Video job not found.")
    if job.generator == Generator.STUDIO.value:
        raise invalid(
            {"videoId": ["A studio job cannot be rendered; create a new studio job."]}
        )
    return job


async def _enabled_model(session: AsyncSession, model_id: int) -> RenderModel:
    model = await repository.get_enabled_model(session, model_id)
    if model is None:
        raise invalid({"modelId": ["modelId must be the id of an enabled model."]})
    return model


async def _catalog_preset(session: AsyncSession, slug: str) -> DeforumPreset:
    preset = await repository.get_preset_by_slug(session, slug)
    if preset is None:
        presets = ", ".join(p.slug for p in await repository.list_presets(session))
        raise invalid({"preset": [f"preset must be one of: {presets}."]})
    return preset


async def _extension_base(
    session: AsyncSession, user: User, job: VideoJob, base_id: int, generator: str
) -> VideoJob:
    """Load the job to extend and check that `generator` may extend it."""
    base = await repository.get_user_job(session, user, base_id)
    if base is None:
        raise NotFound("The job to extend was not found.")
    if generator == Generator.VID2VID.value:
        message = (
            "Cannot extend deforum jobs with vid2vid"
            if base.generator == Generator.DEFORUM.value
            else "Only deforum jobs can be extended"
        )
        raise invalid({"extendFromJobId": [message]})
    if base.generator != Generator.DEFORUM.value:
        raise invalid({"extendFromJobId": ["Only deforum jobs can be extended"]})
    if base.id == job.id:
        raise invalid({"extendFromJobId": ["A job cannot extend itself."]})
    if base.status != JobStatus.FINISHED.value:
        raise invalid({"extendFromJobId": ["Only finished jobs can be extended."]})
    return base


def _source_size(job: VideoJob, model: RenderModel) -> tuple[int, int]:
    if job.source_width and job.source_height:
        return fit_size(job.source_width, job.source_height, model)
    return model.width, model.height


async def plan_vid2vid(
    session: AsyncSession, user: User, job: VideoJob, request: Vid2VidRequest
) -> RenderPlan:
    """Work out a vid2vid render: the source's frames at the model's size."""
    if request.extend_from_job_id is not None:
        await _extension_base(
            session, user, job, request.extend_from_job_id, Generator.VID2VID.value
        )
    model = await _enabled_model(session, request.model_id)
    width, height = _source_size(job, model)
    total_frames = job.source_frame_count or 1
    seed = chosen_seed(request.seed)
    controlnet = (
        None
        if request.controlnet is None
        else [unit.model_dump(exclude_none=True) for unit in request.controlnet]
    )
    parameters = {
        "type": Generator.VID2VID.value,
        "modelId": model.id,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "cfgScale": request.cfg_scale,
        "denoising": request.denoising,
        "frameCount": request.frame_count,
        "seed": seed,
        "controlnet": controlnet,
    }
    values = {
        "generator": Generator.VID2VID.value,
        "model_id": model.id,
        "preset_id": None,
        "extend_from_job_id": None,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "cfg_scale": float(request.cfg_scale),
        "steps": DEFAULT_STEPS,
        "denoising": request.denoising,
        "seed": seed,
        "controlnet": controlnet,
        "generation_parameters": parameters,
        "deforum_settings": None,
        "width": width,
        "height": height,
        "fps_num": job.source_fps_num,
        "fps_den": job.source_fps_den,
        "frame_count": total_frames,
        "length": job.source_duration,
    }
    return RenderPlan(values, model, min(request.frame_count, total_frames))


async def plan_deforum(
    session: AsyncSession, user: User, job: VideoJob, request: DeforumRequest
) -> RenderPlan:
    """Work out a Deforum render: preset + overrides, or inherited from a base job."""
    if request.extend_from_job_id is not None:
        base = await _extension_base(
            session, user, job, request.extend_from_job_id, Generator.DEFORUM.value
        )
        return await _plan_extension(session, job, base, request)

    # The request model makes these required when not extending.
    assert request.model_id is not None
    assert request.preset is not None
    model = await _enabled_model(session, request.model_id)
    preset = await _catalog_preset(session, request.preset)
    fps = rate_from(request.fps)
    length = request.length or DEFAULT_LENGTH
    seed = chosen_seed(request.seed)
    merged = merge_settings(
        preset.settings,
        request.settings,
        frame_count=deforum_frames(length, fps),
        seed=seed,
    )
    return _deforum_plan(
        job,
        request,
        model=model,
        preset=preset,
        settings=merged.settings,
        overrides=merged.overrides,
        ignored=merged.ignored,
        size=_source_size(job, model),
        fps=fps,
        length=length,
        seed=seed,
        base=None,
    )


async def _plan_extension(
    session: AsyncSession, job: VideoJob, base: VideoJob, request: DeforumRequest
) -> RenderPlan:
    if base.model_id is None:
        raise invalid({"extendFromJobId": ["The model of that job no longer exists."]})
    model = await _enabled_model(session, base.model_id)
    preset = (
        None
        if base.preset_id is None
        else await session.get(DeforumPreset, base.preset_id)
    )
    inherited = base.generation_parameters or {}
    ignored = [
        name
        for name, value in (
            ("modelId", request.model_id),
            ("preset", request.preset),
            ("fps", request.fps),
            ("settings", request.settings),
        )
        if value is not None
    ]
    fps = base.fps or Fraction(DEFAULT_FPS)
    length = request.length or base.length or DEFAULT_LENGTH
    seed = chosen_seed(request.seed, base.seed)
    # Re-check the inherited schedules over the new segment's frames.
    merged = merge_settings(
        base.deforum_settings,
        None,
        frame_count=deforum_frames(length, fps),
        seed=seed,
    )
    return _deforum_plan(
        job,
        request,
        model=model,
        preset=preset,
        settings=merged.settings,
        overrides=dict(inherited.get("settings") or {}),
        ignored=ignored,
        size=(base.width or model.width, base.height or model.height),
        fps=fps,
        length=length,
        seed=seed,
        base=base,
    )


def _deforum_plan(
    job: VideoJob,
    request: DeforumRequest,
    *,
    model: RenderModel,
    preset: DeforumPreset | None,
    settings: dict[str, Any],
    overrides: dict[str, Any],
    ignored: list[str],
    size: tuple[int, int],
    fps: Fraction,
    length: float,
    seed: int,
    base: VideoJob | None,
) -> RenderPlan:
    prompt = request.prompt or (base.prompt if base else None)
    negative = request.negative_prompt
    if negative is None and base is not None:
        negative = base.negative_prompt
    denoising = request.denoising
    if denoising is None and base is not None:
        denoising = base.denoising
    cfg_scale = request.cfg_scale
    if cfg_scale is None and base is not None and base.cfg_scale is not None:
        cfg_scale = int(base.cfg_scale)
    frames = deforum_frames(length, fps)
    parameters = {
        "type": Generator.DEFORUM.value,
        "modelId": model.id,
        "prompt": prompt,
        "negative_prompt": negative,
        "preset": None if preset is None else preset.slug,
        "length": length,
        "fps": float(fps),
        "frameCount": request.frame_count,
        "seed": seed,
        "denoising": denoising,
        "cfgScale": cfg_scale,
        "settings": overrides,
        "ignored_settings": ignored,
        "extendFromJobId": None if base is None else base.id,
    }
    values = {
        "generator": Generator.DEFORUM.value,
        "model_id": model.id,
        "preset_id": None if preset is None else preset.id,
        "extend_from_job_id": None if base is None else base.id,
        "prompt": prompt,
        "negative_prompt": negative,
        "cfg_scale": None if cfg_scale is None else float(cfg_scale),
        "steps": DEFAULT_STEPS,
        "denoising": denoising,
        "seed": seed,
        "controlnet": None,
        "generation_parameters": parameters,
        "deforum_settings": settings,
        "width": size[0],
        "height": size[1],
        "fps_num": fps.numerator,
        "fps_den": fps.denominator,
        "frame_count": frames,
        "length": length,
    }
    return RenderPlan(values, model, min(request.frame_count, frames), ignored)


async def _queue(
    session: AsyncSession,
    settings: Settings,
    user: User,
    job: VideoJob,
    plan: RenderPlan,
    *,
    kind: RenderKind,
    frames: int,
    action: str,
) -> VideoJob:
    credits = await charges.reserve_for_render(
        session, job, settings, frames=frames, kind=kind, model=plan.model
    )
    values = queue_values(
        settings,
        kind=kind,
        frames=frames,
        priority_tier=user.priority_tier,
        credits_reserved=credits,
    )
    try:
        await compare_and_set(session, job, **plan.values, **values)
    except RaceLost as exc:
        raise InvalidTransition(
            f"Cannot {action}: the job changed meanwhile and is now {job.status}."
        ) from exc
    log.info(
        "render_queued",
        job_id=job.id,
        render=kind.value,
        frames=frames,
        queue=job.queue_name,
        credits=credits,
    )
    return job


async def generate(
    session: AsyncSession, settings: Settings, user: User, body: Any
) -> VideoJob:
    """Validate a generate request and queue the requested preview render."""
    job = await _load_job(session, user, body)

    kind = body.get("type")
    if kind in (None, ""):
        raise invalid({"type": ["This field is required."]})
    if kind not in (Generator.VID2VID.value, Generator.DEFORUM.value):
        raise invalid({"type": ["type must be vid2vid or deforum."]})
    if kind == Generator.VID2VID.value:
        vid2vid = parse(Vid2VidRequest, body)
        require_status(job, GENERATE_FROM, "generate a preview for")
        plan = await plan_vid2vid(session, user, job, vid2vid)
    else:
        deforum = parse(DeforumRequest, body)
        require_status(job, GENERATE_FROM, "generate a preview for")
        plan = await plan_deforum(session, user, job, deforum)

    return await _queue(
        session,
        settings,
        user,
        job,
        plan,
        kind=RenderKind.PREVIEW,
        frames=plan.preview_frames,
        action="generate",
    )


async def finalize(
    session: AsyncSession, settings: Settings, user: User, body: Any
) -> VideoJob:
    """Queue the full render of a previewed (or parameterised) job on the low queue.

    Keeps the seed and the extension of the preview; a Deforum job may override
    `modelId`, `prompt`, `preset`, `length` and `seed`.
    """
    job = await _load_job(session, user, body)
    request = parse(FinalizeRequest, body)
    require_status(job, FINALIZE_FROM, "finalize")
    if not job.generation_parameters or job.model_id is None:
        raise InvalidTransition(
            "Set the render parameters with /api/generate before finalizing."
        )

    plan = await _finalize_plan(session, job, request)
    return await _queue(
        session,
        settings,
        user,
        job,
        plan,
        kind=RenderKind.FULL,
        frames=int(plan.values.get("frame_count", job.frame_count) or 1),
        action="finalize",
    )


async def _finalize_plan(
    session: AsyncSession, job: VideoJob, request: FinalizeRequest
) -> RenderPlan:
    assert job.model_id is not None
    if job.generator != Generator.DEFORUM.value:
        model = await session.get(RenderModel, job.model_id)
        if model is None or not model.enabled:
            raise invalid({"modelId": ["The job's model is no longer available."]})
        return RenderPlan({}, model, 0)

    values: dict[str, Any] = {}
    parameters = dict(job.generation_parameters or {})
    model = await _enabled_model(session, request.model_id or job.model_id)
    values["model_id"] = parameters["modelId"] = model.id
    if request.prompt is not None:
        values["prompt"] = parameters["prompt"] = request.prompt
    seed = job.seed if request.seed is None else chosen_seed(request.seed)
    values["seed"] = parameters["seed"] = seed
    frame_count = job.frame_count or 1
    if request.length is not None:
        frame_count = deforum_frames(request.length, job.fps or Fraction(DEFAULT_FPS))
        values["length"] = parameters["length"] = request.length
        values["frame_count"] = frame_count

    preset = None
    if request.preset is not None:
        preset = await _catalog_preset(session, request.preset)
        values["preset_id"] = preset.id
        parameters["preset"] = preset.slug
    elif job.preset_id is not None:
        preset = await session.get(DeforumPreset, job.preset_id)
    # An extension keeps its inherited settings unless a preset is sent explicitly.
    use_preset = request.preset is not None or job.extend_from_job_id is None
    if preset is not None and use_preset:
        base_settings: dict[str, Any] = preset.settings
    else:
        base_settings = job.deforum_settings or {}
    merged = merge_settings(
        base_settings,
        parameters.get("settings"),
        frame_count=frame_count,
        seed=seed or 0,
    )
    values["deforum_settings"] = merged.settings
    values["generation_parameters"] = parameters
    return RenderPlan(values, model, 0)
