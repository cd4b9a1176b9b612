"""From a claimed job spec to a local render: media downloads and the RenderSpec."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mage_studio.queue.schemas import JobSpec
from mage_studio.render.client import DownloadFailed, WorkerClient
from mage_studio.render.errors import MediaError
from mage_studio.render.media.timeline import parse_rate
from mage_studio.render.pipelines import ExtendFrom, RenderSpec

DEFAULT_CFG_SCALE = 7.0
DEFAULT_DENOISING = 0.5
DEFAULT_STEPS = 20
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


@dataclass(frozen=True, slots=True)
class JobMedia:
    """Local copies of a job's media (None where the spec has no URL)."""

    source: Path | None = None
    soundtrack: Path | None = None
    base_video: Path | None = None
    base_last_frame: Path | None = None


async def download_job_media(
    client: WorkerClient, spec: JobSpec, folder: Path, *, max_bytes: int
) -> JobMedia:
    """Download the source, soundtrack and extension base of `spec` into `folder`."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)

    async def fetch(url: str | None, name: str) -> Path | None:
        if not url:
            return None
        destination = folder / (name + _suffix(url))
        return await client.download(url, destination, max_bytes=max_bytes)

    source = await fetch(spec.source.url if spec.source else None, "source")
    soundtrack = await fetch(spec.soundtrack_url, "soundtrack")
    base_video = base_last_frame = None
    if spec.extend_from is not None:
        if not spec.extend_from.video_url:
            raise MediaError("The video of the job to extend is missing.")
        try:
            base_video = await fetch(spec.extend_from.video_url, "base")
            base_last_frame = await fetch(spec.extend_from.last_frame_url, "base_last")
        except DownloadFailed as exc:
            if exc.file_gone:
                raise MediaError(
                    f"The video of job {spec.extend_from.job_id}, which this job "
                    "extends, was not found. That job was probably deleted after "
                    "this one started."
                ) from exc
            raise
    return JobMedia(source, soundtrack, base_video, base_last_frame)


def render_spec_for(spec: JobSpec, media: JobMedia) -> RenderSpec:
    """Build the pipeline's RenderSpec from a claimed job and its local media.

    Unset job values get the pipeline defaults (cfg 7, denoising 0.5, 20 steps).
    The model is passed to the backend by its `backend_name`.
    """
    params = spec.params
    generator = spec.generator
    if generator == "studio":
        raise MediaError("Studio jobs run with run_studio, not a render pipeline.")
    extend_from = None
    if media.base_video is not None:
        extend_from = ExtendFrom(
            video=media.base_video,
            last_frame=media.base_last_frame,
            frame_count=spec.extend_from.frame_count if spec.extend_from else None,
        )
    return RenderSpec(
        job_id=str(spec.job_id),
        generator=generator,
        render=spec.render,
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        seed=params.seed,
        cfg_scale=_or(params.cfg_scale, DEFAULT_CFG_SCALE),
        denoising=_or(params.denoising, DEFAULT_DENOISING),
        steps=params.steps or DEFAULT_STEPS,
        model=spec.model.backend_name if spec.model else None,
        width=params.width,
        height=params.height,
        max_side=max(spec.model.width, spec.model.height) if spec.model else 512,
        fps=_rate(params.fps),
        frame_count=params.frame_count or None,
        length=params.length,
        color_match=params.color_match,
        source=media.source,
        soundtrack=media.soundtrack,
        deforum=spec.deforum,
        extend_from=extend_from,
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _rate(text: str | None) -> Fraction | None:
    if not text:
        return None
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise MediaError(f"The job's frame rate {text!r} is invalid.") from exc


def _suffix(url: str) -> str:
    """Return the file extension of the URL's path (".mp4"), or "" when unusable."""
    suffix = Path(unquote(urlsplit(url).path)).suffix
    return suffix.lower() if _SUFFIX.match(suffix) else ""
