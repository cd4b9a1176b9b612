"""Damaged files raise MediaError subclasses, never other exceptions or crashes."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from render_factories import write_audio, write_gif, write_still, write_video

from mage_studio.render.errors import MediaError, UnsupportedMedia
from mage_studio.render.media import iter_frames, probe, probe_audio, probe_upload

Factory = Callable[[Path], Path]

FACTORIES: dict[str, Factory] = {
    "mp4": lambda d: write_video(
        d / "clip.mp4", frames=8, audio_codec="aac", textured=True
    ),
    "webm": lambda d: write_video(
        d / "clip.webm", frames=6, container_format="webm", codec="libvpx-vp9"
    ),
    "gif": lambda d: write_gif(d / "anim.gif"),
    "png": lambda d: write_still(d / "still.png"),
    "jpeg": lambda d: write_still(d / "still.jpg", "JPEG"),
    "wav": lambda d: write_audio(d / "track.wav"),
    "mp3": lambda d: write_audio(
        d / "track.mp3", codec="libmp3lame", container_format="mp3"
    ),
}


def _damage(data: bytes, rng: random.Random, mode: int) -> bytes:
    damaged = bytearray(data)
    if mode == 0:
        for _ in range(rng.randint(1, 20)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
    elif mode == 1:
        damaged = damaged[: rng.randrange(1, len(damaged))]
    else:
        start = rng.randrange(len(damaged))
        damaged[start : start + 50] = bytes(rng.randrange(256) for _ in range(50))
    return bytes(damaged)


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_damaged_files_raise_media_errors(tmp_path: Path, kind: str) -> None:
    original = FACTORIES[kind](tmp_path).read_bytes()
    rng = random.Random(kind)
    target = tmp_path / f"damaged.{kind}"
    readers: list[Callable[[Path], object]] = [
        probe_upload,
        probe,
        probe_audio,
        lambda path: list(iter_frames(path, limit=10)),
    ]

    for trial in range(12):
        target.write_bytes(_damage(original, rng, trial % 3))
        for read in readers:
            with contextlib.suppress(MediaError):
                read(target)


def test_unknown_video_codec_rejected(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "clip.webm", frames=4, container_format="webm", codec="libvpx-vp9"
    )
    path.write_bytes(path.read_bytes().replace(b"V_VP9", b"V_XY9"))

    with pytest.raises(UnsupportedMedia, match="codec"):
        probe_upload(path)
    with pytest.raises(UnsupportedMedia, match="codec"):
        list(iter_frames(path))


def test_random_bytes_rejected(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(random.Random(3).randbytes(4096))

    with pytest.raises(MediaError):
        probe_upload(path)
    with pytest.raises(MediaError):
        probe_audio(path)
