"""Render pipelines: `render_job` runs one vid2vid or Deforum render to local files."""

from __future__ import annotations

from pathlib import Path

import structlog

from mage_studio.render.backends.base import Backend
from mage_studio.render.pipelines.deforum import render_deforum
from mage_studio.render.pipelines.spec import (
    CancelCheck,
    ExtendFrom,
    Progress,
    ProgressCallback,
    RenderOutputs,
    RenderSpec,
    SteeringSource,
)
from mage_studio.render.pipelines.vid2vid import render_vid2vid

log = structlog.get_logger(__name__)


def render_job(
    spec: RenderSpec,
    workdir: Path,
    backend: Backend,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    get_steering: SteeringSource | None = None,
) -> RenderOutputs:
    """Render `spec` into `workdir` and return the output files and metadata.

    The call blocks, so run it in a worker thread. `on_progress` is called after
    every frame (throttle it on the caller's side), `should_cancel` before every
    frame, and `get_steering` (Deforum only) before every frame for the latest
    live values.

    Raises RenderCancelled when `should_cancel` returns True, MediaError for
    unusable sources, SettingsError for invalid Deforum settings and
    BackendError (with `retryable`) when generation fails.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log.info(
        "render.started",
        job_id=spec.job_id,
        generator=spec.generator,
        render=spec.render,
        backend=backend.name,
    )
    if spec.generator == "deforum":
        outputs = render_deforum(
            spec, workdir, backend, on_progress, should_cancel, get_steering
        )
    else:
        outputs = render_vid2vid(spec, workdir, backend, on_progress, should_cancel)
    log.info(
        "render.finished",
        job_id=spec.job_id,
        frames=outputs.frames_rendered,
        seconds=outputs.timings.get("total_seconds"),
    )
    return outputs


__all__ = [
    "CancelCheck",
    "ExtendFrom",
    "Progress",
    "ProgressCallback",
    "RenderOutputs",
    "RenderSpec",
    "SteeringSource",
    "render_job",
]
