"""Generated media for studio tests: "source" and "generated" clips that differ.

Source frames are gray with a red top-left quarter (as in render_factories);
generated frames are blue with a yellow bottom-right quarter, so every region
of a composed frame shows which input it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image
from render_factories import make_frame

Frame = npt.NDArray[np.uint8]
BLUE = (40, 60, 200)
YELLOW = (230, 210, 40)


def generated_frame(index: int, width: int, height: int) -> Frame:
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:, :] = BLUE
    image[height // 2 :, width // 2 :] = YELLOW
    image[: height // 8, :] = (index * 8) % 256  # a band that changes per frame
    return image


def source_frame(index: int, width: int, height: int) -> Frame:
    return make_frame(index, width, height)


def write_clip(
    path: Path,
    *,
    frame: Callable[[int, int, int], Frame] = source_frame,
    width: int = 64,
    height: int = 48,
    frames: int = 12,
    rate: Fraction = Fraction(12),
    tone_hz: float | None = None,
    audio_seconds: float | None = None,
) -> Path:
    """Write an H.264 MP4; `tone_hz` adds an AAC sine tone (the clip's length)."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / rate
        audio = None
        if tone_hz is not None:
            audio = container.add_stream("aac", rate=48000)
            audio.layout = "stereo"
        for index in range(frames):
            video_frame = av.VideoFrame.from_ndarray(frame(index, width, height))
            video_frame.pts = index
            video_frame.time_base = 1 / rate
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))
        if audio is not None and tone_hz is not None:
            seconds = audio_seconds if audio_seconds is not None else frames / rate
            _encode_tone(container, audio, float(seconds), tone_hz)
    return path


def _encode_tone(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    seconds: float,
    frequency: float,
) -> None:
    rate = 48000
    total = int(seconds * rate)
    for start in range(0, total, 1024):
        count = min(1024, total - start)
        t = np.arange(start, start + count) / rate
        tone = (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
        audio_frame = av.AudioFrame.from_ndarray(
            np.vstack([tone, tone]), format="fltp", layout="stereo"
        )
        audio_frame.sample_rate = rate
        audio_frame.pts = start
        audio_frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(audio_frame))
    container.mux(stream.encode(None))


def write_tone(path: Path, *, seconds: float, frequency: float = 880.0) -> Path:
    """Write a WAV sine tone (48 kHz stereo s16)."""
    rate = 48000
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * frequency * t) * 32767).astype(np.int16)
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=rate)
        stream.layout = "stereo"
        for start in range(0, len(tone), 1024):
            chunk = tone[start : start + 1024]
            interleaved = np.repeat(chunk, 2).reshape(1, -1)
            audio_frame = av.AudioFrame.from_ndarray(
                interleaved, format="s16", layout="stereo"
            )
            audio_frame.sample_rate = rate
            audio_frame.pts = start
            audio_frame.time_base = Fraction(1, rate)
            container.mux(stream.encode(audio_frame))
        container.mux(stream.encode(None))
    return path


def write_logo(path: Path, width: int = 40, height: int = 20) -> Path:
    """Write an RGBA PNG: opaque white left half, fully transparent right half."""
    image = np.zeros((height, width, 4), dtype=np.uint8)
    image[:, : width // 2] = (255, 255, 255, 255)
    Image.fromarray(image, mode="RGBA").save(path, format="PNG")
    return path


def decode_video(path: Path) -> list[Frame]:
    """Decode every frame of a video as RGB (display orientation not applied)."""
    with av.open(str(path)) as container:
        return [
            np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            for frame in container.decode(video=0)
        ]


def decode_audio(path: Path) -> npt.NDArray[np.float32]:
    """Decode the first audio stream as float32 (channels, samples) at 48 kHz."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
        blocks = []
        for frame in container.decode(audio=0):
            for converted in resampler.resample(frame):
                blocks.append(converted.to_ndarray())
        for converted in resampler.resample(None):
            blocks.append(converted.to_ndarray())
    return np.concatenate(blocks, axis=1).astype(np.float32)


def stream_facts(path: Path) -> dict[str, object]:
    """Size, rate, frame count, duration and audio length of an output MP4."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        facts: dict[str, object] = {
            "width": video.width,
            "height": video.height,
            "rate": Fraction(video.average_rate) if video.average_rate else None,
            "codec": video.codec_context.name,
            "audio_codec": audio.codec_context.name if audio else None,
            "format": container.format.name,
        }
    facts["frames"] = len(decode_video(path))
    facts["audio_seconds"] = (
        decode_audio(path).shape[1] / 48000 if facts["audio_codec"] else None
    )
    return facts


def moov_before_mdat(path: Path) -> bool:
    """Whether the MP4 index comes before the media data (+faststart)."""
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


def rms(samples: npt.NDArray[np.float32]) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0


def mean_color(image: Frame) -> npt.NDArray[np.float64]:
    return np.asarray(image.reshape(-1, 3).mean(axis=0), dtype=np.float64)


def close_to(first: Frame, second: Frame, tolerance: float = 12.0) -> bool:
    """Whether two same-sized images differ by less than `tolerance` on average."""
    difference = np.abs(first.astype(np.int16) - second.astype(np.int16))
    return float(difference.mean()) < tolerance
