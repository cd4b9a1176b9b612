"""Test media generated with PyAV and Pillow: videos, audio, GIFs and stills.

Every generated video frame is filled with a gray level that encodes its index
(`frame_level`), with a red marker in the top-left quarter so that rotation and
cropping can be checked after decoding.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]


def samples_dir() -> Path:
    """Return the real-world samples folder: MAGE_SAMPLES_DIR, default ../shared."""
    configured = os.environ.get("MAGE_SAMPLES_DIR")
    return Path(configured) if configured else (REPO_ROOT / ".." / "shared").resolve()


def frame_level(index: int) -> int:
    """Gray level of generated frame `index`: 16, 24, 32, ... (wrapping below 240)."""
    return 16 + (index * 8) % 224


def make_frame(
    index: int, width: int, height: int, *, textured: bool = False
) -> npt.NDArray[np.uint8]:
    """A gray frame whose level encodes `index`, with a red top-left quarter.

    `textured` fills the bottom-left quarter with noise, so that every frame
    costs about as many bytes as the first and a cut file loses whole frames.
    """
    image = np.full((height, width, 3), frame_level(index), dtype=np.uint8)
    image[: height // 2, : width // 2] = (220, 30, 30)
    if textured:
        noise = np.random.default_rng(index).integers(
            0, 256, (height - height // 2, width // 2, 3)
        )
        image[height // 2 :, : width // 2] = noise
    return image


def mean_level(image: npt.NDArray[np.uint8]) -> float:
    """Mean of the bottom-right quarter, where generated frames show their level."""
    height, width = image.shape[:2]
    return float(image[height // 2 :, width // 2 :].mean())


def decoded_index(image: npt.NDArray[np.uint8]) -> int:
    """Recover the generated frame index from a decoded frame (first 28 frames)."""
    return round((mean_level(image) - 16) / 8)


def write_video(
    path: Path,
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 12,
    rate: Fraction = Fraction(24),
    audio_codec: str | None = None,
    audio_seconds: float | None = None,
    timestamps_ms: Sequence[int] | None = None,
    container_format: str = "mp4",
    codec: str = "libx264",
    textured: bool = False,
) -> Path:
    """Write a test video; `timestamps_ms` makes it variable-rate (time base 1/1000)."""
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        time_base = Fraction(1, 1000) if timestamps_ms is not None else 1 / rate
        stream.codec_context.time_base = time_base
        audio = None
        if audio_codec is not None:
            audio = container.add_stream(audio_codec, rate=48000)
            audio.layout = "stereo"
        for index in range(frames):
            image = make_frame(index, width, height, textured=textured)
            frame = av.VideoFrame.from_ndarray(image)
            frame.pts = timestamps_ms[index] if timestamps_ms is not None else index
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            seconds = audio_seconds if audio_seconds is not None else frames / rate
            _encode_tone(container, audio, float(seconds))
    return path


def _encode_tone(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    seconds: float,
) -> None:
    rate = stream.sample_rate
    total = int(seconds * rate)
    chunk = 1024
    for start in range(0, total, chunk):
        count = min(chunk, total - start)
        t = np.arange(start, start + count) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(
            np.vstack([tone, tone]), format="fltp", layout="stereo"
        )
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_audio(
    path: Path,
    *,
    seconds: float = 1.0,
    rate: int = 48000,
    channels: int = 2,
    codec: str = "pcm_s16le",
    container_format: str = "wav",
) -> Path:
    """Write a 440 Hz tone: WAV (s16/s24/f32), MP3 (libmp3lame), AAC (adts) or M4A."""
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = layout
        resampler = av.AudioResampler(
            format=stream.codec_context.codec.audio_formats[0].name,
            layout=layout,
            rate=rate,
        )
        total = int(seconds * rate)
        chunk = 1152 if codec == "libmp3lame" else 1024
        for start in range(0, total, chunk):
            count = min(chunk, total - start)
            t = np.arange(start, start + count) / rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            planes = np.vstack([tone] * channels)
            frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for converted in resampler.resample(frame):
                container.mux(stream.encode(converted))
        container.mux(stream.encode(None))
    return path


def set_mp4_rotation(path: Path, clockwise_degrees: int) -> Path:
    """Patch the video track's display matrix so players rotate it clockwise.

    FFmpeg reads the `tkhd` matrix as the stream's display matrix, which is how
    phones record portrait video.
    """
    matrices = {
        0: (65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30),
        90: (0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30),
        180: (-65536, 0, 0, 0, -65536, 0, 0, 0, 1 << 30),
        270: (0, -65536, 0, 65536, 0, 0, 0, 0, 1 << 30),
    }
    data = bytearray(path.read_bytes())
    box = data.find(b"tkhd")
    version = data[box + 4]
    matrix_offset = box + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    data[matrix_offset : matrix_offset + 36] = struct.pack(
        ">9i", *matrices[clockwise_degrees]
    )
    path.write_bytes(bytes(data))
    return path


def write_gif(
    path: Path, frames: int = 6, durations_ms: Sequence[int] | None = None
) -> Path:
    """Write an animated GIF of odd size (31x21) whose frames encode their index."""
    images = [Image.fromarray(make_frame(i, 31, 21)) for i in range(frames)]
    durations = list(durations_ms) if durations_ms is not None else [100] * frames
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=durations, loop=0
    )
    return path


def write_still(
    path: Path,
    image_format: str = "PNG",
    *,
    width: int = 40,
    height: int = 30,
    exif_orientation: int | None = None,
) -> Path:
    """Write a still whose red marker sits top-left as stored (before EXIF rotation)."""
    image = Image.fromarray(make_frame(3, width, height))
    options: dict[str, object] = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        options["exif"] = exif.tobytes()
    image.save(path, format=image_format, **options)
    return path


def truncate(path: Path, fraction: float) -> Path:
    """Cut a file to `fraction` of its length, like an interrupted upload."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path
