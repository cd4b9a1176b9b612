"""Exports: a finished video re-framed to 9:16, 1:1, 16:9 or its own aspect.

Each frame is cropped around a focus point or padded with bars (a solid colour
or the picture itself, blurred), then scaled to the chosen height. The output is
H.264 with the video's audio in an MP4 whose index comes first (+faststart), so
it starts playing before it has fully downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from mage_studio.render.imaging import RGBImage, resize
from mage_studio.render.media.audio import AudioSource
from mage_studio.render.media.decode import output_frame_count
from mage_studio.render.media.probe import MediaInfo, probe
from mage_studio.render.pipelines.spec import RenderOutputs
from mage_studio.render.studio.canvas import (
    crop_box,
    pad,
    scaled_size,
    size_for_aspect,
)
from mage_studio.render.studio.options import (
    ASPECT_RATIOS,
    MAX_HEIGHT,
    ExportOptions,
    parse_color,
)
from mage_studio.render.studio.output import StudioContext, aligned_frames

DEFAULT_RATE = Fraction(25)
FrameTransform = Callable[[RGBImage], RGBImage]


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """Output size of an export and the transform applied to every frame."""

    width: int
    height: int
    transform: FrameTransform


def _output_height(natural: float | Fraction, options: ExportOptions) -> int:
    """Return the height to encode: the picture's own, capped by maxHeight (and by
    MAX_HEIGHT), or maxHeight itself when `upscale` is set."""
    height = min(natural, MAX_HEIGHT)
    if options.max_height is not None:
        height = (
            options.max_height if options.upscale else min(height, options.max_height)
        )
    return max(2, int(height))


def plan_export(width: int, height: int, options: ExportOptions) -> ExportPlan:
    """Work out the output size and frame transform for a width x height picture."""
    if options.aspect == "original":
        out_width, out_height = scaled_size(
            width, height, _output_height(height, options), upscale=True
        )
        return ExportPlan(out_width, out_height, _scale_to(out_width, out_height))
    aspect = ASPECT_RATIOS[options.aspect]
    if options.fit == "crop":
        focus = options.focus
        point = (0.5, 0.5) if focus is None else (focus.x, focus.y)
        box = crop_box(width, height, aspect, point)
        out_width, out_height = size_for_aspect(
            _output_height(box.height, options), aspect
        )

        def crop(image: RGBImage) -> RGBImage:
            return resize(box.cut(image), out_width, out_height)

        return ExportPlan(out_width, out_height, crop)
    # The padded canvas is as tall as the picture when the target aspect is wider,
    # and as tall as the picture's width requires when it is narrower.
    natural = height if aspect >= Fraction(width, height) else width / aspect
    out_width, out_height = size_for_aspect(_output_height(natural, options), aspect)
    background = options.background
    color = parse_color(background.color) if background.type == "color" else None

    def padded(image: RGBImage) -> RGBImage:
        return pad(image, out_width, out_height, color=color)

    return ExportPlan(out_width, out_height, padded)


def _scale_to(width: int, height: int) -> FrameTransform:
    def scale(image: RGBImage) -> RGBImage:
        return resize(image, width, height)

    return scale


def export_video(
    video: Path, options: ExportOptions, context: StudioContext
) -> RenderOutputs:
    """Export `video` per `options` and return the result files."""
    info = probe(video)
    rate = info.fps or DEFAULT_RATE
    total = output_frame_count(info, rate)
    plan = plan_export(info.width, info.height, options)
    with context.writer(
        plan.width, plan.height, rate, total, options.watermark
    ) as writer:
        for image in aligned_frames(video, rate, total):
            writer.add(plan.transform(image))
        return writer.finish(_audio_of(video, info))


def _audio_of(path: Path, info: MediaInfo) -> AudioSource | None:
    return AudioSource(path, start=info.start_time) if info.has_audio else None
