"""Studio jobs on the CPU: exports, compositions, joined videos, audio edits.

`run_studio` runs one studio job over local files, reporting progress per frame
and stopping before the next frame once `should_cancel` returns True, like
`render_job`. `make_renditions` writes the gallery renditions of any finished
video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from mage_studio.render.errors import MediaError
from mage_studio.render.pipelines.spec import (
    CancelCheck,
    ProgressCallback,
    RenderOutputs,
)
from mage_studio.render.studio.audio import edit_audio
from mage_studio.render.studio.compose import compose, concat
from mage_studio.render.studio.exports import export_video
from mage_studio.render.studio.options import (
    AudioOptions,
    CompositionOptions,
    ConcatOptions,
    ExportOptions,
    StudioModel,
)
from mage_studio.render.studio.output import StudioContext
from mage_studio.render.studio.renditions import (
    RENDITION_NAMES,
    make_renditions,
    try_renditions,
)
from mage_studio.render.studio.spec import (
    StudioInput,
    StudioMedia,
    StudioOptionsError,
    StudioTask,
    download_studio_media,
    parse_options,
    studio_task_of,
)
from mage_studio.render.studio.watermark import load_watermark

log = structlog.get_logger(__name__)


def run_studio(
    job_id: str,
    operation: str,
    options: dict[str, Any],
    media: StudioMedia,
    folder: Path,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> RenderOutputs:
    """Run one studio job into `folder` and return its files.

    The call blocks, so run it in a worker thread. Raises StudioOptionsError for
    options this worker cannot read, MediaError for unusable inputs and
    RenderCancelled when `should_cancel` returns True.
    """
    parsed = parse_options(operation, options)
    folder.mkdir(parents=True, exist_ok=True)
    watermark_placement = getattr(parsed, "watermark", None)
    watermark = None
    if watermark_placement is not None:
        if media.watermark is None:
            raise MediaError("The job asks for a watermark, but none was supplied.")
        watermark = load_watermark(media.watermark)
    context = StudioContext(job_id, folder, on_progress, should_cancel, watermark)
    log.info("studio.started", job_id=job_id, operation=operation)
    outputs = _dispatch(parsed, media, context)
    log.info(
        "studio.finished",
        job_id=job_id,
        operation=operation,
        frames=outputs.frame_count,
        seconds=outputs.timings.get("total_seconds"),
    )
    return outputs


def _dispatch(
    options: StudioModel, media: StudioMedia, context: StudioContext
) -> RenderOutputs:
    if not media.videos:
        raise MediaError("The studio job has no input video.")
    if isinstance(options, ExportOptions):
        return export_video(media.videos[0], options, context)
    if isinstance(options, CompositionOptions):
        if media.source is None:
            raise MediaError("The composition needs the job's source upload.")
        return compose(media.source, media.videos[0], options, context)
    if isinstance(options, ConcatOptions):
        return concat(list(media.videos), options, context)
    if isinstance(options, AudioOptions):
        tracker = context.tracker(0)
        return edit_audio(
            media.videos[0],
            options,
            context.folder,
            tracker,
            soundtrack=media.soundtrack,
        )
    raise StudioOptionsError(f"Unsupported studio options {type(options).__name__}.")


__all__ = [
    "RENDITION_NAMES",
    "StudioInput",
    "StudioMedia",
    "StudioOptionsError",
    "StudioTask",
    "download_studio_media",
    "make_renditions",
    "run_studio",
    "studio_task_of",
    "try_renditions",
]
