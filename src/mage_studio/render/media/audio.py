"""Soundtracks and source audio: probing, AAC packet copy, trimmed AAC encoding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.audio.frame
import av.audio.stream
import av.container
import numpy as np
import numpy.typing as npt

from mage_studio.render.errors import InvalidMedia, UnsupportedMedia
from mage_studio.render.media.containers import (
    AV_ERRORS,
    has_decoder,
    open_input,
    time_base_of,
)

AUDIO_FORMATS = {
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
    "wav": "audio/wav",
}
"""FFmpeg demuxer names of the accepted soundtrack formats (MP3, AAC, M4A, WAV)."""

AAC_SAMPLE_RATES = {
    8000,
    11025,
    12000,
    16000,
    22050,
    24000,
    32000,
    44100,
    48000,
    64000,
    88200,
    96000,
}
"""Sample rates that AAC encodes natively. Others are resampled to 48 kHz."""

AAC_FRAME_SAMPLES = 1024
AAC_BIT_RATE = 192_000

_PCM_CODEC = re.compile(r"^pcm_([suf])(\d+)")


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """Properties of a soundtrack, measured by decoding all of it."""

    codec: str
    format_name: str
    mimetype: str
    sample_rate: int
    channels: int
    duration: float
    sample_format: str
    """FFmpeg sample format of the decoded audio, e.g. "s16", "s32", "flt", "fltp"."""
    bit_depth: int | None
    """Bits per sample for PCM (16, 24, 32), None for compressed codecs."""
    floating_point: bool
    """Whether PCM samples are stored as floats (False for compressed codecs)."""
    bit_rate: int | None
    size_bytes: int


def probe_audio(path: Path) -> AudioInfo:
    """Validate a soundtrack upload by decoding it completely.

    Accepts MP3, AAC (ADTS), M4A/MP4 and WAV, including 24-bit and floating-point
    PCM. Raises UnsupportedMedia for other formats and files without audio, and
    InvalidMedia for damaged files (a broken header, no decodable audio).
    """
    with open_input(path, "soundtrack") as container:
        format_name = container.format.name
        if not container.streams.audio:
            raise UnsupportedMedia("The soundtrack file contains no audio.")
        if format_name not in AUDIO_FORMATS:
            raise UnsupportedMedia(
                f"Soundtracks in '{format_name}' format are not supported. "
                "Upload MP3, AAC, M4A or WAV."
            )
        stream = container.streams.audio[0]
        if not has_decoder(stream):
            raise UnsupportedMedia("The soundtrack's audio codec is not supported.")
        samples, sample_format = _decode_all(container, stream)
        if samples == 0:
            raise InvalidMedia("The soundtrack contains no decodable audio.")
        codec = stream.codec_context.codec.canonical_name
        bit_depth, floating = _pcm_depth(codec)
        return AudioInfo(
            codec=codec,
            format_name=format_name,
            mimetype=AUDIO_FORMATS[format_name],
            sample_rate=stream.sample_rate,
            channels=stream.channels,
            duration=samples / stream.sample_rate,
            sample_format=sample_format,
            bit_depth=bit_depth,
            floating_point=floating,
            bit_rate=container.bit_rate or None,
            size_bytes=path.stat().st_size,
        )


def _decode_all(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream
) -> tuple[int, str]:
    samples = 0
    sample_format = ""
    errors = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet)
            except AV_ERRORS:
                errors += 1
                continue
            for frame in frames:
                samples += frame.samples
                sample_format = frame.format.name
    except AV_ERRORS as error:
        raise InvalidMedia(
            f"The soundtrack is damaged or truncated: {error}."
        ) from error
    if errors and samples == 0:
        raise InvalidMedia("The soundtrack cannot be decoded.")
    return samples, sample_format


def _pcm_depth(codec: str) -> tuple[int | None, bool]:
    match = _PCM_CODEC.match(codec)
    if match is None:
        return None, False
    return int(match.group(2)), match.group(1) == "f"


@dataclass(frozen=True, slots=True)
class AudioSource:
    """Audio to put under a video.

    `start` is the time in the audio file, in seconds, that plays with the
    video's first frame: a source video's first-frame time (MediaInfo.start_time)
    keeps picture and sound in sync. None starts at the first audio sample, as
    for a separate soundtrack.
    """

    path: Path
    start: float | None = None


def has_audio(path: Path) -> bool:
    """Return whether `path` contains an audio stream."""
    with open_input(path, "audio") as container:
        return bool(container.streams.audio)


def copy_aac_packets(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    output_stream: av.audio.stream.AudioStream,
    start: float | None,
    duration: Fraction,
) -> Iterator[av.Packet]:
    """Yield the AAC packets of `stream` that play within [0, duration), retimed.

    Trimming is per packet (1024 samples, about 21 ms at 48 kHz): a packet that
    starts before the end is kept whole, so the audio may run up to one packet
    longer than the video.
    """
    time_base = time_base_of(stream.time_base)
    origin: Fraction | None = None if start is None else Fraction(start)
    for packet in container.demux(stream):
        if packet.pts is None or not packet.size or packet.is_discard:
            continue
        time = packet.pts * time_base
        if origin is None:
            origin = time
        relative = time - origin
        if relative < 0:
            continue
        if relative >= duration:
            return
        packet.pts = packet.dts = round(relative / time_base)
        packet.stream = output_stream
        yield packet


class AacEncoder:
    """Encode decoded audio to AAC, trimmed to a time window with sample accuracy."""

    def __init__(
        self,
        output: av.container.OutputContainer,
        source: av.audio.stream.AudioStream,
        start: float | None,
        duration: Fraction,
    ) -> None:
        self.sample_rate = (
            source.sample_rate if source.sample_rate in AAC_SAMPLE_RATES else 48000
        )
        self.layout = "mono" if source.channels == 1 else "stereo"
        self.stream = output.add_stream("aac", rate=self.sample_rate)
        self.stream.layout = self.layout
        self.stream.bit_rate = AAC_BIT_RATE
        self._resampler = av.AudioResampler(
            format="fltp", layout=self.layout, rate=self.sample_rate
        )
        self._start = start
        self._limit = int(duration * self.sample_rate)
        self._skip: int | None = None  # input samples still to drop before the window
        self._delay = 0  # output samples of silence before the first kept sample
        self._pending: list[npt.NDArray[np.float32]] = []
        self._pending_samples = 0
        self._written = 0

    @property
    def _capacity(self) -> int:
        return self._limit - self._delay - self._written

    def encode(
        self,
        container: av.container.InputContainer,
        source: av.audio.stream.AudioStream,
    ) -> Iterator[av.Packet]:
        """Decode `source`, trim it and yield the encoded AAC packets."""
        for frame in container.decode(source):
            yield from self._push(frame)
            if self._pending_samples >= self._capacity:
                break
        yield from self._drain(final=True)

    def _push(self, frame: av.audio.frame.AudioFrame) -> Iterator[av.Packet]:
        if self._skip is None:
            offset = self._initial_offset(frame)
            self._skip = max(0, -offset)
            self._delay = max(0, offset)
        for resampled in self._resampler.resample(frame):
            samples = np.asarray(resampled.to_ndarray(), dtype=np.float32)
            samples = self._trim_start(samples)
            if samples.shape[1]:
                self._pending.append(samples)
                self._pending_samples += samples.shape[1]
        yield from self._drain(final=False)

    def _initial_offset(self, frame: av.audio.frame.AudioFrame) -> int:
        """Return where the first decoded sample plays, in output samples from 0."""
        if self._start is None or frame.time is None:
            return 0
        return round((frame.time - self._start) * self.sample_rate)

    def _trim_start(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if not self._skip:
            return samples
        cut = min(self._skip, samples.shape[1])
        self._skip -= cut
        return samples[:, cut:]

    def _drain(self, *, final: bool) -> Iterator[av.Packet]:
        if not self._pending:
            if final:
                yield from self.stream.encode(None)
            return
        buffer = np.concatenate(self._pending, axis=1)
        buffer = buffer[:, : max(0, self._capacity)]
        chunks = buffer.shape[1] // AAC_FRAME_SAMPLES
        usable = buffer.shape[1] if final else chunks * AAC_FRAME_SAMPLES
        for offset in range(0, usable, AAC_FRAME_SAMPLES):
            chunk = np.ascontiguousarray(
                buffer[:, offset : min(offset + AAC_FRAME_SAMPLES, usable)]
            )
            yield from self._encode_chunk(chunk)
        rest = buffer[:, usable:]
        self._pending = [rest] if rest.shape[1] else []
        self._pending_samples = rest.shape[1]
        if final:
            yield from self.stream.encode(None)

    def _encode_chunk(self, chunk: npt.NDArray[np.float32]) -> Iterator[av.Packet]:
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self.layout)
        frame.sample_rate = self.sample_rate
        frame.pts = self._delay + self._written
        frame.time_base = Fraction(1, self.sample_rate)
        self._written += chunk.shape[1]
        yield from self.stream.encode(frame)
