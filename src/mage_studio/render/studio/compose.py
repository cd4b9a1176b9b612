"""Compositions of a job's source and its generated video, and joined videos.

A composition follows the generated video's timeline: its frame rate, length
and size (scaled down to maxHeight). The source is resampled to that rate,
scaled to cover the same size (as the render saw it), and repeats its last frame
when it is shorter. A still source shows on every frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from mage_studio.render.imaging import RGBImage, blend, resize
from mage_studio.render.media.audio import AudioSource
from mage_studio.render.media.decode import output_frame_count
from mage_studio.render.media.probe import MediaInfo, probe
from mage_studio.render.media.timeline import parse_rate
from mage_studio.render.pipelines.spec import RenderOutputs
from mage_studio.render.studio.canvas import (
    Box,
    draw_border,
    even,
    pad,
    paste,
    scaled_size,
    solid,
)
from mage_studio.render.studio.options import (
    CompositionOptions,
    ConcatOptions,
    Crossfade,
    PictureInPicture,
    SideBySide,
    Wipe,
    parse_color,
)
from mage_studio.render.studio.output import StudioContext, aligned_frames
from mage_studio.render.studio.pcm import (
    SAMPLE_RATE,
    AacWriter,
    PcmReader,
    seconds_to_samples,
    silence,
)

DEFAULT_RATE = Fraction(25)
# (frame index, source frame, generated frame) -> output frame
Composer = Callable[[int, RGBImage, RGBImage], RGBImage]


def compose(
    source: Path,
    generated: Path,
    options: CompositionOptions,
    context: StudioContext,
) -> RenderOutputs:
    """Compose the source and generated video per `options.layout`."""
    generated_info = probe(generated)
    source_info = probe(source)
    rate = generated_info.fps or DEFAULT_RATE
    total = output_frame_count(generated_info, rate)
    panel = scaled_size(generated_info.width, generated_info.height, options.max_height)
    width, height, composer = _layout(options, panel, rate)

    with context.writer(width, height, rate, total, options.watermark) as writer:
        sources = aligned_frames(source, rate, total, panel)
        generated_frames = aligned_frames(generated, rate, total, panel)
        for index, (before, after) in enumerate(
            zip(sources, generated_frames, strict=True)
        ):
            writer.add(composer(index, before, after))
        return writer.finish(
            _composition_audio(options, source, source_info, generated, generated_info)
        )


def _layout(
    options: CompositionOptions, panel: tuple[int, int], rate: Fraction
) -> tuple[int, int, Composer]:
    """Return the output size and frame composer of the chosen layout."""
    if options.layout == "side-by-side":
        return side_by_side(options.side_by_side, panel)
    if options.layout == "wipe":
        return (*panel, wipe(options.wipe, panel, rate))
    if options.layout == "crossfade":
        return (*panel, crossfade(options.crossfade, rate))
    return (*panel, picture_in_picture(options.pip, panel))


def side_by_side(
    options: SideBySide, panel: tuple[int, int]
) -> tuple[int, int, Composer]:
    """Place the two pictures next to each other, `gap` pixels apart."""
    panel_width, panel_height = panel
    gap = options.gap + options.gap % 2  # keeps the output width even
    width = 2 * panel_width + gap
    background = solid(width, panel_height, parse_color(options.gap_color))
    source_first = options.order == "source-first"

    def composer(_: int, source: RGBImage, generated: RGBImage) -> RGBImage:
        left, right = (source, generated) if source_first else (generated, source)
        canvas = np.array(background, copy=True)
        paste(canvas, left, 0, 0)
        paste(canvas, right, panel_width + gap, 0)
        return canvas

    return width, panel_height, composer


def wipe_position(options: Wipe, seconds: float) -> float:
    """Return the divider's place (0-1) at `seconds`.

    A moving divider starts at 1 (only the source shows), sweeps to 0 at half the
    period (only the result shows) and back, along a cosine so it eases at the ends.
    """
    if options.divider == "fixed":
        return options.position
    return (1 + math.cos(2 * math.pi * seconds / options.period)) / 2


def wipe(options: Wipe, panel: tuple[int, int], rate: Fraction) -> Composer:
    """Show the source before the divider and the generated video after it."""
    line_color = parse_color(options.line_color)
    horizontal = options.direction == "horizontal"
    length = panel[0] if horizontal else panel[1]

    def composer(index: int, source: RGBImage, generated: RGBImage) -> RGBImage:
        split = round(wipe_position(options, float(index / rate)) * length)
        canvas = np.array(generated, copy=True)
        start = max(0, split - options.line_width // 2)
        end = min(length, start + options.line_width)
        if horizontal:
            canvas[:, :split] = source[:, :split]
            canvas[:, start:end] = line_color
        else:
            canvas[:split, :] = source[:split, :]
            canvas[start:end, :] = line_color
        return canvas

    return composer


def crossfade_weight(options: Crossfade, seconds: float) -> float:
    """Return how much of the generated picture shows at `seconds` (0-1)."""
    return min(1.0, max(0.0, (seconds - options.start) / options.seconds))


def crossfade(options: Crossfade, rate: Fraction) -> Composer:
    """Dissolve from the source into the generated video."""

    def composer(index: int, source: RGBImage, generated: RGBImage) -> RGBImage:
        weight = crossfade_weight(options, float(index / rate))
        if weight <= 0:
            return source
        if weight >= 1:
            return generated
        return blend(source, generated, weight)

    return composer


def inset_box(options: PictureInPicture, panel: tuple[int, int]) -> Box:
    """Return where the inset goes: `scale` of the width, in `corner`."""
    panel_width, panel_height = panel
    width = even(panel_width * options.scale)
    height = even(width * panel_height / panel_width)
    margin = round(options.margin * min(panel_width, panel_height))
    vertical, horizontal = options.corner.split("-")
    left = margin if horizontal == "left" else panel_width - width - margin
    top = margin if vertical == "top" else panel_height - height - margin
    return Box(max(0, left), max(0, top), width, height)


def picture_in_picture(options: PictureInPicture, panel: tuple[int, int]) -> Composer:
    """Show one picture full size and the other small in a corner."""
    box = inset_box(options, panel)
    border_color = parse_color(options.border_color)
    source_inset = options.inset == "source"

    def composer(_: int, source: RGBImage, generated: RGBImage) -> RGBImage:
        main, small = (generated, source) if source_inset else (source, generated)
        canvas = np.array(main, copy=True)
        paste(canvas, resize(small, box.width, box.height), box.left, box.top)
        draw_border(canvas, box, options.border, border_color)
        return canvas

    return composer


def _composition_audio(
    options: CompositionOptions,
    source: Path,
    source_info: MediaInfo,
    generated: Path,
    generated_info: MediaInfo,
) -> AudioSource | None:
    if options.audio == "generated" and generated_info.has_audio:
        return AudioSource(generated, start=generated_info.start_time)
    if options.audio == "source" and source_info.has_audio:
        return AudioSource(source, start=source_info.start_time)
    return None


def concat(
    videos: list[Path], options: ConcatOptions, context: StudioContext
) -> RenderOutputs:
    """Join `videos` in order into one video of the first one's size.

    Every video is resampled to one frame rate (the option, else the first
    video's) and scaled to fit the first one's size, with bars in the background
    colour where its aspect differs. The audio of each part is cut or padded
    with silence to the length of its picture, so sound stays in sync across
    the joins. A part without audio is silent.
    """
    infos = [probe(path) for path in videos]
    first = infos[0]
    rate = parse_rate(options.fps) if options.fps else (first.fps or DEFAULT_RATE)
    width, height = scaled_size(first.width, first.height, options.max_height)
    counts = [output_frame_count(info, rate) for info in infos]
    color = parse_color(options.background)
    with_audio = any(info.has_audio for info in infos)
    track = context.folder / "audio.m4a"

    try:
        with context.writer(
            width, height, rate, sum(counts), options.watermark
        ) as writer:
            audio = AacWriter(track) if with_audio else None
            frames_before = 0
            try:
                for path, info, count in zip(videos, infos, counts, strict=True):
                    for image in aligned_frames(path, rate, count):
                        writer.add(pad(image, width, height, color=color))
                    frames_before += count
                    if audio is not None:
                        _append_audio(audio, path, info, frames_before / rate)
            finally:
                if audio is not None:
                    audio.close()
            return writer.finish(AudioSource(track) if with_audio else None)
    finally:
        track.unlink(missing_ok=True)


def _append_audio(
    writer: AacWriter, path: Path, info: MediaInfo, end: Fraction
) -> None:
    """Write the part's audio (or silence) up to `end` seconds of the output."""
    count = seconds_to_samples(end) - writer.samples_received
    if count <= 0:
        return
    if not info.has_audio:
        for first in range(0, count, SAMPLE_RATE):
            writer.write(silence(min(SAMPLE_RATE, count - first)))
        return
    with PcmReader(path, start=info.start_time) as reader:
        for first in range(0, count, SAMPLE_RATE):
            writer.write(reader.read(min(SAMPLE_RATE, count - first)))
