"""Probing source media: size after rotation, exact frame rate, frames, duration, audio.

`probe_upload` is what the server calls on an upload. It decodes every video frame,
so a file it accepts is known to render. `probe` is the worker's lenient variant:
it accepts truncated files and renders the frames that decode.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av.audio.stream
import av.container
import av.video.stream

from mage_studio.render.errors import InvalidMedia, UnsupportedMedia
from mage_studio.render.media.containers import has_decoder, open_input, time_base_of
from mage_studio.render.media.images import (
    IMAGE_MIMETYPES,
    animation_rate,
    identify_image,
    probe_image,
)
from mage_studio.render.media.timeline import format_rate, normalise_rate
from mage_studio.render.media.video import (
    DecodeStats,
    clockwise_rotation,
    decode_frames,
    display_size,
    nominal_rate_of,
)

MediaKind = Literal["video", "image", "gif"]

MAX_SIDE = 8192
"""Largest width or height accepted, in pixels (8K UHD is 7680 x 4320)."""

VIDEO_FORMATS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV",
    "matroska,webm": "WebM/MKV",
    "ogg": "Ogg",
    "gif": "GIF",
}
"""FFmpeg demuxer names of the video containers the studio accepts."""

_WEBM_VIDEO_CODECS = {"vp8", "vp9", "av1"}
_WEBM_AUDIO_CODECS = {"opus", "vorbis"}
_VFR_TOLERANCE = Fraction(2, 100)


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """Properties of a source video, GIF or still image.

    `width` and `height` are the displayed size: rotation metadata and
    non-square pixels are applied, so an iPhone portrait clip coded as 568x320
    reports 320x568. Stills report `fps` None, one frame and zero duration.
    """

    kind: MediaKind
    width: int
    height: int
    rotation: int
    """Clockwise degrees (0, 90, 180, 270) applied to coded frames for display."""
    fps: Fraction | None
    frame_count: int
    """Frames that decode (videos, GIFs) or 1 (stills)."""
    duration: float
    """Seconds from the first frame's start to the last frame's end."""
    start_time: float
    """Container time of the first frame in seconds, used to align source audio."""
    has_audio: bool
    video_codec: str
    audio_codec: str | None
    format_name: str
    mimetype: str
    bit_rate: int | None
    variable_frame_rate: bool
    size_bytes: int

    @property
    def fps_text(self) -> str | None:
        """The rate as the worker protocol writes it ("24000/1001"), None for stills."""
        return None if self.fps is None else format_rate(self.fps)


def probe(path: Path) -> MediaInfo:
    """Probe a source for rendering, accepting truncated files that still decode.

    Raises UnsupportedMedia for files that are not video or images (audio-only
    files included) and InvalidMedia when no frame decodes.
    """
    return _probe(path, strict=False)


def probe_upload(path: Path) -> MediaInfo:
    """Validate an upload by decoding it completely and return its properties.

    Raises UnsupportedMedia (for HTTP 415) for anything that is not a supported
    video container or image format, including renamed text files and audio-only
    MOV files. Raises InvalidMedia (for HTTP 422) for damaged files: no decodable
    frame, fewer frames than the container's sample table lists (truncated), or a
    read error before the end.
    """
    return _probe(path, strict=True)


def _probe(path: Path, *, strict: bool) -> MediaInfo:
    image_format = identify_image(path)
    if image_format in IMAGE_MIMETYPES:
        return _probe_image_file(path)
    return _probe_video_file(path, strict=strict)


def _probe_image_file(path: Path) -> MediaInfo:
    image = probe_image(path)
    _check_size(image.width, image.height)
    mimetype = IMAGE_MIMETYPES[image.format]
    if not image.animated:
        return MediaInfo(
            kind="image",
            width=image.width,
            height=image.height,
            rotation=0,
            fps=None,
            frame_count=1,
            duration=0.0,
            start_time=0.0,
            has_audio=False,
            video_codec=image.format.lower(),
            audio_codec=None,
            format_name=image.format.lower(),
            mimetype=mimetype,
            bit_rate=None,
            variable_frame_rate=False,
            size_bytes=path.stat().st_size,
        )
    durations = image.frame_durations_ms
    return MediaInfo(
        kind="gif",
        width=image.width,
        height=image.height,
        rotation=0,
        fps=animation_rate(durations),
        frame_count=len(durations),
        duration=sum(durations) / 1000,
        start_time=0.0,
        has_audio=False,
        video_codec=image.format.lower(),
        audio_codec=None,
        format_name=image.format.lower(),
        mimetype=mimetype,
        bit_rate=None,
        variable_frame_rate=len(set(durations)) > 1,
        size_bytes=path.stat().st_size,
    )


@dataclass(slots=True)
class _Scan:
    stats: DecodeStats
    first_pts: int | None = None
    end_pts: int | None = None
    rotation: int = 0
    intervals: list[int] | None = None


def _probe_video_file(path: Path, *, strict: bool) -> MediaInfo:
    with open_input(path, "video") as container:
        _check_streams(container, strict=strict)
        stream = container.streams.video[0]
        if max(stream.width, stream.height) > MAX_SIDE:  # before decoding it all
            _check_size(stream.width, stream.height)
        audio = _decodable_audio(container)
        scan = _scan(container, stream)
        _check_decoded(scan, stream, strict=strict)
        return _video_info(path, container, stream, audio, scan)


def _decodable_audio(
    container: av.container.InputContainer,
) -> av.audio.stream.AudioStream | None:
    for stream in container.streams.audio:
        if has_decoder(stream):
            return stream
    return None


def _check_streams(container: av.container.InputContainer, *, strict: bool) -> None:
    if not container.streams.video:
        if container.streams.audio:
            raise UnsupportedMedia("The file contains only audio and no video.")
        raise UnsupportedMedia(
            "The file is not a video or image that the studio can read."
        )
    if not has_decoder(container.streams.video[0]):
        raise UnsupportedMedia(
            "The video codec of the file is unknown or not supported."
        )
    format_name = container.format.name
    if strict and format_name not in VIDEO_FORMATS:
        raise UnsupportedMedia(
            f"Video files in '{format_name}' format are not supported. "
            "Upload MP4, MOV, WebM, MKV, Ogg or GIF."
        )


def _scan(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> _Scan:
    scan = _Scan(DecodeStats(), intervals=[])
    previous_pts: int | None = None
    for frame in decode_frames(container, stream, scan.stats):
        if scan.stats.frames == 1:
            scan.rotation = clockwise_rotation(frame.rotation)
        pts = frame.pts
        if pts is None:
            continue
        if scan.first_pts is None:
            scan.first_pts = pts
        if (
            previous_pts is not None
            and scan.intervals is not None
            and pts > previous_pts
        ):
            scan.intervals.append(pts - previous_pts)
        previous_pts = pts
        scan.end_pts = pts + (frame.duration or 0)
    if scan.end_pts is not None and scan.intervals and previous_pts == scan.end_pts:
        scan.end_pts += int(statistics.median(scan.intervals))
    return scan


def _check_decoded(
    scan: _Scan, stream: av.video.stream.VideoStream, *, strict: bool
) -> None:
    stats = scan.stats
    if stats.frames == 0:
        raise InvalidMedia(
            "The video contains no decodable frames (the file may be truncated)."
        )
    if not strict:
        return
    if stats.read_error is not None:
        raise InvalidMedia(
            f"The video file is damaged or truncated: {stats.read_error}."
        )
    expected = stream.frames - stats.discarded if stream.frames else 0
    if expected > 0 and stats.packets < expected:
        raise InvalidMedia(
            f"The video file is truncated: {stats.packets} of {expected} frames "
            "are present."
        )


def _video_info(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    audio: av.audio.stream.AudioStream | None,
    scan: _Scan,
) -> MediaInfo:
    time_base = time_base_of(stream.time_base)
    first = scan.first_pts or 0
    end = scan.end_pts if scan.end_pts is not None else first
    duration = (end - first) * time_base
    rate = _frame_rate(stream, scan.intervals or [], time_base)
    if duration <= 0:
        duration = scan.stats.frames / rate
    sample_aspect = stream.sample_aspect_ratio
    width, height = display_size(
        stream.width, stream.height, scan.rotation, sample_aspect
    )
    _check_size(width, height)
    return MediaInfo(
        kind="video",
        width=width,
        height=height,
        rotation=scan.rotation,
        fps=rate,
        frame_count=scan.stats.frames,
        duration=float(duration),
        start_time=float(first * time_base),
        has_audio=audio is not None,
        video_codec=stream.codec_context.codec.canonical_name,
        audio_codec=(
            audio.codec_context.codec.canonical_name if audio is not None else None
        ),
        format_name=container.format.name,
        mimetype=_video_mimetype(container, stream, audio),
        bit_rate=container.bit_rate or None,
        variable_frame_rate=_is_variable(scan.intervals or []),
        size_bytes=path.stat().st_size,
    )


def _frame_rate(
    stream: av.video.stream.VideoStream, intervals: list[int], time_base: Fraction
) -> Fraction:
    """Return the declared rate when it agrees with the measured one within 1 %.

    The measured rate comes from the median frame interval, which ignores the
    gaps of a damaged file and the odd long frame of a variable-rate recording.
    """
    declared = nominal_rate_of(stream)
    if not intervals:
        return normalise_rate(declared or Fraction(25))
    measured = 1 / (Fraction(statistics.median_low(intervals)) * time_base)
    if declared is not None and abs(declared - measured) / measured <= Fraction(1, 100):
        return normalise_rate(declared)
    return normalise_rate(measured)


def _is_variable(intervals: list[int]) -> bool:
    if len(intervals) < 2:
        return False
    median = statistics.median(intervals)
    spread = max(intervals) - min(intervals)
    return spread > 1 and spread > median * _VFR_TOLERANCE


def _video_mimetype(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    audio: av.audio.stream.AudioStream | None,
) -> str:
    name = container.format.name
    if name.startswith("mov,"):
        brand = container.metadata.get("major_brand", "").strip()
        return "video/quicktime" if brand == "qt" else "video/mp4"
    if name == "matroska,webm":
        audio_codec = (
            None if audio is None else audio.codec_context.codec.canonical_name
        )
        webm_audio = audio_codec is None or audio_codec in _WEBM_AUDIO_CODECS
        video_codec = stream.codec_context.codec.canonical_name
        if video_codec in _WEBM_VIDEO_CODECS and webm_audio:
            return "video/webm"
        return "video/x-matroska"
    return {"ogg": "video/ogg", "gif": "image/gif", "avi": "video/x-msvideo"}.get(
        name, "application/octet-stream"
    )


def _check_size(width: int, height: int) -> None:
    if width > MAX_SIDE or height > MAX_SIDE:
        raise UnsupportedMedia(
            f"The media is {width}x{height} pixels, larger than the maximum "
            f"of {MAX_SIDE} per side."
        )
    if width < 2 or height < 2:
        raise InvalidMedia(f"The media is {width}x{height} pixels, which is too small.")
