"""vid2vid: every frame of a source through img2img with one fixed seed.

A preview renders `frame_count` frames sampled evenly over the clip and returns
only images (strip, animation, thumbnail). A full render processes every frame
at the output rate, optionally matches each frame's colours to the first output
frame against flicker, and writes an MP4 with the soundtrack, or else the
source's own audio, cut to the video.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import structlog

from mage_studio.render.backends.base import Backend
from mage_studio.render.errors import InvalidMedia
from mage_studio.render.imaging import LabStats, RGBImage, lab_stats, match_colors
from mage_studio.render.media.audio import AudioSource
from mage_studio.render.media.decode import (
    iter_frames,
    output_frame_count,
    sample_frames,
)
from mage_studio.render.media.probe import MediaInfo, probe
from mage_studio.render.media.timeline import frame_count_for
from mage_studio.render.pipelines.common import FrameSink, RenderLoop, render_size
from mage_studio.render.pipelines.spec import (
    CancelCheck,
    ProgressCallback,
    RenderOutputs,
    RenderSpec,
)

log = structlog.get_logger(__name__)

PREVIEW_ANIMATION_RATE = Fraction(4)
"""Playback rate of a preview's sampled frames, which lie far apart in the clip."""
DEFAULT_RATE = Fraction(25)


def render_vid2vid(
    spec: RenderSpec,
    workdir: Path,
    backend: Backend,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> RenderOutputs:
    """Render a vid2vid preview or full render (see the module description)."""
    if spec.source is None:
        raise InvalidMedia("A vid2vid render needs a source video or image.")
    source = spec.source
    info = probe(source)
    size = render_size(spec, info)
    render = _render_preview if spec.render == "preview" else _render_full
    return render(
        spec, workdir, backend, source, info, size, on_progress, should_cancel
    )


def _render_preview(
    spec: RenderSpec,
    workdir: Path,
    backend: Backend,
    source: Path,
    info: MediaInfo,
    size: tuple[int, int],
    on_progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> RenderOutputs:
    count = max(1, spec.frame_count or 1)
    samples = sample_frames(source, info, count, rate=info.fps, size=size)
    loop = RenderLoop(spec, backend, len(samples), on_progress, should_cancel)
    sink = FrameSink(
        workdir,
        size[0],
        size[1],
        info.fps or DEFAULT_RATE,
        len(samples),
        write_video=False,
    )
    _process(loop, sink, (image for _, image in samples))
    return sink.finish(loop, audio=None, animation_rate=PREVIEW_ANIMATION_RATE)


def _render_full(
    spec: RenderSpec,
    workdir: Path,
    backend: Backend,
    source: Path,
    info: MediaInfo,
    size: tuple[int, int],
    on_progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> RenderOutputs:
    rate = spec.fps or info.fps or DEFAULT_RATE
    total = output_frame_count(info, rate)
    if spec.length:
        total = max(1, min(total, frame_count_for(Fraction(spec.length), rate)))
    frames = (
        image for _, image in iter_frames(source, rate=rate, size=size, limit=total)
    )
    loop = RenderLoop(spec, backend, total, on_progress, should_cancel)
    sink = FrameSink(workdir, size[0], size[1], rate, total, write_video=True)
    log.info(
        "render.vid2vid_started",
        job_id=spec.job_id,
        frames=total,
        width=size[0],
        height=size[1],
    )
    _process(loop, sink, frames)
    return sink.finish(loop, audio=_audio_for(spec, source, info))


def _process(loop: RenderLoop, sink: FrameSink, frames: Iterable[RGBImage]) -> None:
    """Run img2img on each frame with the job's seed, matching colours if asked."""
    spec = loop.spec
    reference: LabStats | None = None
    try:
        for frame in frames:
            loop.check_cancel()
            output = loop.img2img(
                frame,
                prompt=spec.prompt,
                negative_prompt=spec.negative_prompt,
                seed=spec.seed,
                cfg=spec.cfg_scale,
                denoising=spec.denoising,
                steps=spec.steps,
            )
            if spec.color_match:
                if reference is None:
                    reference = lab_stats(output)
                else:
                    output = match_colors(output, reference)
            sink.add(output)
            loop.frame_done(output)
    except BaseException:
        sink.abort()
        raise
    if loop.frames_done == 0:
        sink.abort()
        raise InvalidMedia("The source contains no decodable frames.")


def _audio_for(spec: RenderSpec, source: Path, info: MediaInfo) -> AudioSource | None:
    if spec.soundtrack is not None:
        return AudioSource(spec.soundtrack)
    if info.has_audio:
        return AudioSource(source, start=info.start_time)
    return None
