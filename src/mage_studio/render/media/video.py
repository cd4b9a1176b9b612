"""Low-level video decoding with PyAV: packets, frames, timing and display transform."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av.container
import av.video.frame
import av.video.stream
import numpy as np
import structlog

from mage_studio.render.imaging import RGBImage, resize, rotate_clockwise
from mage_studio.render.media.containers import AV_ERRORS, time_base_of

log = structlog.get_logger(__name__)

MAX_CONSECUTIVE_DECODE_ERRORS = 50
"""Undecodable packets in a row after which a stream counts as unreadable."""


@dataclass(slots=True)
class DecodeStats:
    """What happened while demuxing and decoding one video stream."""

    packets: int = 0
    discarded: int = 0
    frames: int = 0
    decode_errors: int = 0
    read_error: str | None = None


def clockwise_rotation(display_matrix_degrees: float) -> int:
    """Convert FFmpeg's display-matrix angle to the clockwise turn a player applies.

    FFmpeg reports the angle counter-clockwise (an iPhone portrait clip says -90),
    and the `ffmpeg` tool rotates such a frame 90 degrees clockwise for display.
    Angles that are not multiples of 90 are rounded to the nearest quarter turn.
    """
    quarter_turns = round(-display_matrix_degrees / 90)
    return int(quarter_turns * 90) % 360


def display_size(
    coded_width: int, coded_height: int, rotation: int, sample_aspect: Fraction | None
) -> tuple[int, int]:
    """Return the (width, height) a player shows: pixel aspect and rotation applied."""
    width = coded_width
    if sample_aspect is not None and sample_aspect > 0 and sample_aspect != 1:
        width = max(2, round(coded_width * sample_aspect))
    if rotation in (90, 270):
        return coded_height, width
    return width, coded_height


def frame_to_rgb(
    frame: av.video.frame.VideoFrame, sample_aspect: Fraction | None
) -> RGBImage:
    """Convert a decoded frame to RGB as a player shows it (pixel aspect, rotation)."""
    image = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    if sample_aspect is not None and sample_aspect > 0 and sample_aspect != 1:
        width, height = display_size(frame.width, frame.height, 0, sample_aspect)
        image = resize(image, width, height)
    return rotate_clockwise(image, clockwise_rotation(frame.rotation))


def decode_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    stats: DecodeStats,
) -> Iterator[av.video.frame.VideoFrame]:
    """Yield the decoded frames of `stream` in presentation order.

    A packet that fails to decode is counted and skipped, as players do, unless
    MAX_CONSECUTIVE_DECODE_ERRORS fail in a row. A read error (a truncated file)
    ends the stream after flushing the decoder. Both are recorded in `stats`.
    """
    packets = container.demux(stream)
    consecutive_errors = 0
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except AV_ERRORS as error:
            stats.read_error = str(error)
            log.info("media.read_stopped", error=str(error), packets=stats.packets)
            yield from _flush(stream, stats)
            return
        if packet.size:
            stats.packets += 1
            stats.discarded += int(packet.is_discard)
        try:
            frames = stream.decode(packet)
        except AV_ERRORS:
            stats.decode_errors += 1
            consecutive_errors += 1
            if consecutive_errors >= MAX_CONSECUTIVE_DECODE_ERRORS:
                return
            continue
        consecutive_errors = 0
        for frame in frames:
            stats.frames += 1
            yield frame


def _flush(
    stream: av.video.stream.VideoStream, stats: DecodeStats
) -> Iterator[av.video.frame.VideoFrame]:
    try:
        frames = stream.decode(None)
    except AV_ERRORS:
        return
    for frame in frames:
        stats.frames += 1
        yield frame


@dataclass(slots=True)
class TimedFrame:
    """A decoded frame with its start and duration in seconds from the first frame."""

    start: Fraction
    duration: Fraction | None
    frame: av.video.frame.VideoFrame


def timed_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    stats: DecodeStats,
    nominal_rate: Fraction,
) -> Iterator[TimedFrame]:
    """Yield decoded frames with times relative to the first decoded frame.

    Frames without a timestamp (raw elementary streams) are placed one nominal
    frame interval after their predecessor.
    """
    time_base = time_base_of(stream.time_base)
    interval_ticks = max(1, round(1 / (nominal_rate * time_base)))
    origin: int | None = None
    previous_pts: int | None = None
    for frame in decode_frames(container, stream, stats):
        pts = frame.pts
        if pts is None:
            pts = 0 if previous_pts is None else previous_pts + interval_ticks
        if origin is None:
            origin = pts
        previous_pts = pts
        duration = frame.duration * time_base if frame.duration else None
        yield TimedFrame((pts - origin) * time_base, duration, frame)


def nominal_rate_of(stream: av.video.stream.VideoStream) -> Fraction | None:
    """Return the rate the container declares for `stream`, or None when it has none."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and 0 < rate <= 1000:
            return Fraction(rate)
    return None
