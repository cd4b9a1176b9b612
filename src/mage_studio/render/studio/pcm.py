"""Decoded audio as float32 stereo samples at 48 kHz, and AAC encoding of samples.

Studio operations that build a new audio track (mixes, fades, joined videos)
read their inputs with `PcmReader`, which returns exactly the number of samples
asked for, and write the result with `AacWriter`. The track is then muxed under
the picture by `mux_audio`, which copies the AAC packets.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.audio.frame
import av.audio.stream
import av.container
import numpy as np
import numpy.typing as npt
import structlog

from mage_studio.render.media.audio import AAC_BIT_RATE, AAC_FRAME_SAMPLES
from mage_studio.render.media.containers import AV_ERRORS, has_decoder, open_input

log = structlog.get_logger(__name__)

SAMPLE_RATE = 48_000
CHANNELS = 2
Samples = npt.NDArray[np.float32]
"""Audio samples, shape (channels, count), float32 in -1..1."""


def silence(count: int) -> Samples:
    return np.zeros((CHANNELS, max(0, count)), dtype=np.float32)


def seconds_to_samples(seconds: float | Fraction) -> int:
    return max(0, round(Fraction(seconds) * SAMPLE_RATE))


class PcmReader:
    """Reads one file's first audio stream as stereo samples at 48 kHz.

    `start` is the time in the file that plays at sample 0 of the output: pass a
    video's first-frame time to keep its own audio in sync, or None to start at
    the first audio sample (a separate soundtrack). `skip` seconds more are
    dropped after that. `read` always returns the requested count: silence after
    the end, or, with `loop`, the audio again from the same starting point. A
    file without decodable audio reads as silence.
    """

    def __init__(
        self,
        path: Path,
        *,
        start: float | None = None,
        skip: float = 0.0,
        loop: bool = False,
    ) -> None:
        self.path = path
        self.start = start
        self.skip = skip
        self.loop = loop
        self._blocks = self._decode()
        self._buffer: list[Samples] = []
        self._buffered = 0
        self._produced = 0
        self._ended = False

    def read(self, count: int) -> Samples:
        """Return the next `count` samples."""
        while self._buffered < count and not self._ended:
            self._pull()
        if not self._buffer:
            return silence(count)
        joined = np.concatenate(self._buffer, axis=1)
        result = joined[:, :count]
        rest = joined[:, count:]
        self._buffer = [rest] if rest.shape[1] else []
        self._buffered = rest.shape[1]
        if result.shape[1] < count:
            result = np.concatenate([result, silence(count - result.shape[1])], axis=1)
        return np.ascontiguousarray(result)

    def close(self) -> None:
        """Close the file (reading again starts over from the beginning)."""
        self._blocks.close()
        self._blocks = self._decode()
        self._buffer = []
        self._buffered = 0
        self._produced = 0
        self._ended = False

    def __enter__(self) -> PcmReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _pull(self) -> None:
        try:
            block = next(self._blocks)
        except StopIteration:
            if self.loop and self._produced > 0:
                self._blocks = self._decode()
                self._produced = 0
            else:
                self._ended = True
            return
        if block.shape[1]:
            self._buffer.append(block)
            self._buffered += block.shape[1]
            self._produced += block.shape[1]

    def _decode(self) -> Generator[Samples, None, None]:
        with open_input(self.path, "audio") as container:
            stream = _audio_stream(container)
            if stream is None:
                return
            resampler = av.AudioResampler(
                format="fltp", layout="stereo", rate=SAMPLE_RATE
            )
            to_skip = 0
            first = True
            for frame in _decoded_frames(container, stream, self.path):
                if first:
                    first = False
                    offset = self._initial_offset(frame)
                    if offset > 0:
                        yield silence(offset)
                    to_skip = max(0, -offset)
                for resampled in resampler.resample(frame):
                    samples, to_skip = _drop(_as_samples(resampled), to_skip)
                    yield samples
            for resampled in resampler.resample(None):
                samples, to_skip = _drop(_as_samples(resampled), to_skip)
                yield samples

    def _initial_offset(self, frame: av.audio.frame.AudioFrame) -> int:
        """Return where the first decoded sample plays, in output samples from 0."""
        offset = -seconds_to_samples(self.skip)
        if self.start is not None and frame.time is not None:
            offset += round((frame.time - self.start) * SAMPLE_RATE)
        return offset


def _audio_stream(
    container: av.container.InputContainer,
) -> av.audio.stream.AudioStream | None:
    for stream in container.streams.audio:
        if has_decoder(stream):
            return stream
    return None


def _decoded_frames(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    path: Path,
) -> Iterator[av.audio.frame.AudioFrame]:
    """Yield decoded frames, skipping undecodable packets and stopping at a
    read error (a truncated file plays up to where it was cut)."""
    try:
        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet)
            except AV_ERRORS:
                continue
            yield from frames
    except AV_ERRORS as error:
        log.info("studio.audio_read_stopped", path=path.name, error=str(error))


def _as_samples(frame: av.audio.frame.AudioFrame) -> Samples:
    return np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(CHANNELS, -1)


def _drop(samples: Samples, count: int) -> tuple[Samples, int]:
    if count <= 0:
        return samples, 0
    cut = min(count, samples.shape[1])
    return samples[:, cut:], count - cut


class AacWriter:
    """Encodes stereo samples at 48 kHz to an AAC track in an .m4a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.samples_received = 0
        """Samples passed to `write` so far, encoded or still buffered."""
        self._encoded = 0
        self._container = av.open(str(path), "w", format="mp4")
        self._stream = self._container.add_stream("aac", rate=SAMPLE_RATE)
        self._stream.layout = "stereo"
        self._stream.bit_rate = AAC_BIT_RATE
        self._pending = silence(0)
        self._closed = False

    def write(self, samples: Samples) -> None:
        self.samples_received += samples.shape[1]
        self._pending = np.concatenate([self._pending, samples], axis=1)
        usable = self._pending.shape[1] // AAC_FRAME_SAMPLES * AAC_FRAME_SAMPLES
        for offset in range(0, usable, AAC_FRAME_SAMPLES):
            self._encode(self._pending[:, offset : offset + AAC_FRAME_SAMPLES])
        self._pending = self._pending[:, usable:]

    def close(self) -> None:
        """Encode what is left, flush the encoder and finish the file."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._pending.shape[1]:
                self._encode(self._pending)
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()

    def _encode(self, chunk: Samples) -> None:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(chunk, dtype=np.float32),
            format="fltp",
            layout="stereo",
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._encoded
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._encoded += chunk.shape[1]
        self._container.mux(self._stream.encode(frame))

    def __enter__(self) -> AacWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
