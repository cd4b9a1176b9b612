"""Soundtrack tools: replace, mix, fade, trim or loop the audio of a finished video.

The picture is never re-encoded: a new AAC track is built from the inputs and
muxed with the video's packets copied as they are. The new track lasts exactly
as long as the video, with silence where the inputs run out.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from mage_studio.render.errors import InvalidMedia, MediaError
from mage_studio.render.imaging import RGBImage
from mage_studio.render.media.audio import AudioSource
from mage_studio.render.media.containers import open_input, time_base_of
from mage_studio.render.media.decode import read_first_frame
from mage_studio.render.media.encode import mux_audio, video_duration
from mage_studio.render.media.timeline import normalise_rate
from mage_studio.render.media.video import nominal_rate_of
from mage_studio.render.pipelines.spec import RenderOutputs
from mage_studio.render.studio.options import AudioOptions
from mage_studio.render.studio.output import (
    FrameTracker,
    collect_previews,
    outputs_for,
)
from mage_studio.render.studio.pcm import (
    SAMPLE_RATE,
    AacWriter,
    PcmReader,
    Samples,
    seconds_to_samples,
)

BLOCK_SAMPLES = SAMPLE_RATE // 10
"""Samples mixed per step (0.1 s); cancel is checked between steps."""
DEFAULT_RATE = Fraction(25)


@dataclass(frozen=True, slots=True)
class VideoTiming:
    """Timing of a finished video, read from its packets without decoding."""

    duration: Fraction
    rate: Fraction
    start: float
    """Time of the first video packet, which the original audio is aligned to."""

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration * self.rate))


def video_timing(path: Path) -> VideoTiming:
    """Return a video's length, frame rate and start time."""
    with open_input(path, "video") as container:
        if not container.streams.video:
            raise InvalidMedia("The file contains no video stream.")
        stream = container.streams.video[0]
        start_pts = stream.start_time or 0
        start = float(start_pts * time_base_of(stream.time_base))
        rate = normalise_rate(nominal_rate_of(stream) or DEFAULT_RATE)
        duration = video_duration(container)
    return VideoTiming(duration, rate, start)


def fade_envelope(
    first: int, count: int, total: int, fade_in: int, fade_out: int
) -> Samples:
    """Return linear fade gains for samples first..first+count of a total-long track."""
    index = np.arange(first, first + count, dtype=np.float32)
    gain = np.ones(count, dtype=np.float32)
    if fade_in > 0:
        gain *= np.clip(index / fade_in, 0.0, 1.0)
    if fade_out > 0:
        gain *= np.clip((total - index) / fade_out, 0.0, 1.0)
    return gain


def edit_audio(
    video: Path,
    options: AudioOptions,
    folder: Path,
    tracker: FrameTracker,
    *,
    soundtrack: Path | None = None,
) -> RenderOutputs:
    """Give `video` a new audio track per `options` and return the result files.

    Raises MediaError when the mode needs a soundtrack and none was given.
    """
    if options.needs_soundtrack and soundtrack is None:
        raise MediaError(f"The {options.mode} mode needs a soundtrack.")
    timing = video_timing(video)
    tracker.frames_total = timing.frame_count
    preview = read_first_frame(video)
    output = folder / "video.mp4"

    tracker.check_cancel()
    if options.mode == "mute":
        has_audio = mux_audio(video, output, None)
    else:
        track = folder / "audio.m4a"
        try:
            _write_track(track, video, timing, options, soundtrack, tracker, preview)
            has_audio = mux_audio(video, output, AudioSource(track))
        finally:
            track.unlink(missing_ok=True)
    tracker.advance(timing.frame_count, preview)

    previews = collect_previews(output, timing.rate, timing.frame_count)
    return outputs_for(
        output,
        previews,
        tracker,
        has_audio=has_audio,
        folder=folder,
    )


def _write_track(
    track: Path,
    video: Path,
    timing: VideoTiming,
    options: AudioOptions,
    soundtrack: Path | None,
    tracker: FrameTracker,
    preview: RGBImage,
) -> None:
    """Mix the inputs block by block into an AAC track of the video's length."""
    total = seconds_to_samples(timing.duration)
    fade_in = min(total, seconds_to_samples(options.fade_in))
    fade_out = min(total, seconds_to_samples(options.fade_out))
    with contextlib.ExitStack() as stack:
        inputs: list[tuple[PcmReader, float]] = []
        if options.needs_soundtrack and soundtrack is not None:
            music = PcmReader(
                soundtrack, skip=options.soundtrack_start, loop=options.fit == "loop"
            )
            inputs.append((stack.enter_context(music), options.soundtrack_level))
        if options.uses_original:
            original = PcmReader(video, start=timing.start)
            inputs.append((stack.enter_context(original), options.original_level))
        writer = stack.enter_context(AacWriter(track))
        for first in range(0, total, BLOCK_SAMPLES):
            tracker.check_cancel()
            count = min(BLOCK_SAMPLES, total - first)
            mixed = np.zeros((2, count), dtype=np.float32)
            for reader, level in inputs:
                mixed += reader.read(count) * np.float32(level)
            mixed *= fade_envelope(first, count, total, fade_in, fade_out)
            # Hard limit: a loud mix clips here instead of wrapping in the encoder.
            writer.write(np.clip(mixed, -1.0, 1.0))
            done = (first + count) * timing.frame_count // max(1, total)
            tracker.advance(min(done, timing.frame_count - 1), preview)
