"""Writing MP4 files: H.264 encoding, audio muxing, soundtrack remux, concatenation."""

from __future__ import annotations

import heapq
import shutil
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import av.audio.stream
import av.container
import av.video.stream
import structlog

from mage_studio.render.errors import InvalidMedia, MediaError
from mage_studio.render.imaging import RGBImage
from mage_studio.render.media.audio import AacEncoder, AudioSource, copy_aac_packets
from mage_studio.render.media.containers import (
    AV_ERRORS,
    has_decoder,
    open_input,
    time_base_of,
)
from mage_studio.render.media.decode import iter_frames

log = structlog.get_logger(__name__)

MP4_OPTIONS = {"movflags": "+faststart"}
"""Muxer options: the index (moov) goes first so players can start before the end."""

DEFAULT_CRF = 18
DEFAULT_PRESET = "veryfast"


def even_size(width: int, height: int) -> tuple[int, int]:
    """Round a size down to even numbers, which H.264 with yuv420p requires."""
    return max(2, width - width % 2), max(2, height - height % 2)


class VideoWriter:
    """Encode RGB frames to an MP4 file: H.264 (libx264), yuv420p, exact frame rate.

    Frame n gets the timestamp n / rate in a 1/rate time base, so rates such as
    24000/1001 are stored exactly. Width and height must be even. Use as a
    context manager, or call `close()` to flush the encoder and write the index.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        rate: Fraction,
        *,
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs an even size, got {width}x{height}")
        self.path = path
        self.width = width
        self.height = height
        self.rate = rate
        self.frames_written = 0
        self._container = av.open(
            str(path), "w", format="mp4", container_options=MP4_OPTIONS
        )
        self._stream = self._container.add_stream(
            "libx264", rate=rate, options={"crf": str(crf), "preset": preset}
        )
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = 1 / rate
        _tag_bt601(self._stream)
        self._closed = False

    def write(self, image: RGBImage) -> None:
        """Encode one frame, which must have the writer's size."""
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"frame is {image.shape[1]}x{image.shape[0]}, "
                f"the video is {self.width}x{self.height}"
            )
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = 1 / self.rate
        self._container.mux(self._stream.encode(frame))
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()

    @property
    def duration(self) -> Fraction:
        """Length of the frames written so far, in seconds."""
        return self.frames_written / self.rate

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# FFmpeg's AVColorSpace, AVColorPrimaries, AVColorTransferCharacteristic and
# AVColorRange values for BT.601 (SMPTE 170M) in limited ("MPEG") range.
SMPTE170M = 6
LIMITED_RANGE = 1


def _tag_bt601(stream: av.video.stream.VideoStream) -> None:
    """Label the stream with the colour space that PyAV's RGB conversion writes.

    swscale converts RGB to YUV with BT.601 coefficients in limited range.
    Without the label, players guess, and many assume BT.709 for HD sizes,
    which shifts colours slightly.
    """
    context = stream.codec_context
    context.colorspace = SMPTE170M
    context.color_primaries = SMPTE170M
    context.color_trc = SMPTE170M
    context.color_range = LIMITED_RANGE


def video_duration(container: av.container.InputContainer) -> Fraction:
    """Return the length of the first video stream from its packets' timestamps."""
    stream = container.streams.video[0]
    time_base = time_base_of(stream.time_base)
    first: int | None = None
    end: int | None = None
    for packet in container.demux(stream):
        if packet.pts is None or not packet.size:
            continue
        first = packet.pts if first is None else min(first, packet.pts)
        packet_end = packet.pts + (packet.duration or 0)
        end = packet_end if end is None else max(end, packet_end)
    container.seek(0)
    if first is None or end is None:
        raise InvalidMedia("The video contains no frames.")
    return (end - first) * time_base


def mux_audio(video: Path, output: Path, audio: AudioSource | None) -> bool:
    """Write the picture of `video` with `audio` to `output`, cut to the video length.

    The video stream is copied, not re-encoded. AAC audio is copied packet by
    packet, other codecs are encoded to AAC. Any audio already in `video` is
    replaced. Without `audio`, or when its file has no audio stream, the picture
    is copied alone. Returns whether the output has audio.
    """
    try:
        return _mux(video, output, audio)
    except AV_ERRORS as error:
        raise MediaError(f"Muxing audio into the video failed: {error}") from error


def _mux(video: Path, output: Path, audio: AudioSource | None) -> bool:
    with open_input(video, "video") as video_input:
        duration = video_duration(video_input)
        with av.open(
            str(output), "w", format="mp4", container_options=MP4_OPTIONS
        ) as out:
            in_video = video_input.streams.video[0]
            out_video = out.add_stream_from_template(in_video)
            video_packets = _copied_packets(video_input, in_video, out_video)
            if audio is None:
                _mux_all(out, [video_packets])
                return False
            with open_input(audio.path, "audio") as audio_input:
                streams = audio_input.streams.audio
                if not streams or not has_decoder(streams[0]):
                    log.warning("media.audio_skipped", path=audio.path.name)
                    _mux_all(out, [video_packets])
                    return False
                audio_packets = _audio_packets(out, audio_input, audio, duration)
                _mux_all(out, [video_packets, audio_packets])
                return True


def _audio_packets(
    out: av.container.OutputContainer,
    audio_input: av.container.InputContainer,
    audio: AudioSource,
    duration: Fraction,
) -> Iterator[av.Packet]:
    source = audio_input.streams.audio[0]
    if source.codec_context.name == "aac":
        out_audio = out.add_stream_from_template(source)
        return copy_aac_packets(audio_input, source, out_audio, audio.start, duration)
    encoder = AacEncoder(out, source, audio.start, duration)
    return encoder.encode(audio_input, source)


def _copied_packets(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    output_stream: av.video.stream.VideoStream,
) -> Iterator[av.Packet]:
    for packet in container.demux(stream):
        if packet.dts is None or not packet.size:
            continue
        packet.stream = output_stream
        yield packet


def _packet_time(packet: av.Packet) -> Fraction:
    timestamp = packet.dts if packet.dts is not None else packet.pts
    return (timestamp or 0) * packet.time_base


def _mux_all(
    out: av.container.OutputContainer, sources: Iterable[Iterator[av.Packet]]
) -> None:
    """Mux packets of several streams in decoding-time order (interleaved)."""
    for packet in heapq.merge(*sources, key=_packet_time):
        out.mux(packet)


def finish_video(video: Path, output: Path, audio: AudioSource | None) -> bool:
    """Move a freshly encoded video to `output`, adding audio when there is some.

    Returns whether the output has audio.
    """
    if audio is None:
        shutil.move(video, output)
        return False
    has_audio = mux_audio(video, output, audio)
    video.unlink(missing_ok=True)
    return has_audio


def remux_soundtrack(video: Path, soundtrack: Path, output: Path) -> None:
    """Replace the audio of a finished MP4 with a soundtrack, without re-encoding video.

    The soundtrack starts with the first frame and is cut to the video's length.
    """
    mux_audio(video, output, AudioSource(soundtrack))


def concat_videos(
    first: Path,
    second: Path,
    output: Path,
    *,
    audio: AudioSource | None = None,
    crf: int = DEFAULT_CRF,
) -> int:
    """Write `first` followed by `second` to `output` and return the frame count.

    Both videos must have the same size and frame rate (as an extension and its
    base do). The frames are re-encoded into one H.264 stream. `audio` is put
    under the joined video and cut to its length.
    """
    width, height, rate = _video_format(first)
    if _video_format(second) != (width, height, rate):
        raise MediaError(
            "Videos can only be joined when their size and frame rate match."
        )
    temporary = output.with_name(output.stem + ".video.mp4")
    with VideoWriter(temporary, width, height, rate, crf=crf) as writer:
        for path in (first, second):
            for _, image in iter_frames(path, rate=rate):
                writer.write(image)
        frames = writer.frames_written
    finish_video(temporary, output, audio)
    return frames


def _video_format(path: Path) -> tuple[int, int, Fraction]:
    with open_input(path, "video") as container:
        if not container.streams.video:
            raise InvalidMedia("The file contains no video stream.")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if rate is None:
            raise InvalidMedia("The video has no frame rate.")
        return stream.width, stream.height, Fraction(rate)
