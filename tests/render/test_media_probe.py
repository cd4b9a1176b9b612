"""Probing generated media: sizes, exact rates, frame counts, rejections."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image
from render_factories import (
    make_frame,
    set_mp4_rotation,
    truncate,
    write_audio,
    write_gif,
    write_still,
    write_video,
)

from mage_studio.render.errors import InvalidMedia, UnsupportedMedia
from mage_studio.render.media import mux_audio, probe, probe_upload


def test_probe_mp4_ntsc_rate_exact(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=30, rate=Fraction(24000, 1001))

    info = probe_upload(path)

    assert info.kind == "video"
    assert info.fps == Fraction(24000, 1001)
    assert info.fps_text == "24000/1001"
    assert info.frame_count == 30
    assert info.duration == pytest.approx(30 * 1001 / 24000)
    assert (info.width, info.height) == (64, 48)
    assert info.video_codec == "h264"
    assert info.mimetype == "video/mp4"
    assert not info.has_audio
    assert not info.variable_frame_rate


def test_probe_reports_audio_stream(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=12, audio_codec="aac")

    info = probe_upload(path)

    assert info.has_audio
    assert info.audio_codec == "aac"


@pytest.mark.parametrize(
    ("rotation", "size"), [(90, (48, 64)), (180, (64, 48)), (270, (48, 64))]
)
def test_probe_applies_rotation(
    tmp_path: Path, rotation: int, size: tuple[int, int]
) -> None:
    path = set_mp4_rotation(write_video(tmp_path / "phone.mp4"), rotation)

    info = probe_upload(path)

    assert info.rotation == rotation
    assert (info.width, info.height) == size


def test_probe_variable_rate_video(tmp_path: Path) -> None:
    stamps = [0, 40, 80, 150, 190, 230, 300, 340]
    path = write_video(tmp_path / "vfr.mp4", frames=len(stamps), timestamps_ms=stamps)

    info = probe_upload(path)

    assert info.variable_frame_rate
    assert info.fps == 25
    assert info.frame_count == 8
    assert info.duration == pytest.approx(0.38)


def test_probe_webm_without_frame_count(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "clip.webm", frames=10, container_format="webm", codec="libvpx-vp9"
    )

    info = probe_upload(path)

    assert info.frame_count == 10
    assert info.fps == 24
    assert info.mimetype == "video/webm"


def test_probe_animated_gif(tmp_path: Path) -> None:
    path = write_gif(tmp_path / "anim.gif", frames=6)

    info = probe_upload(path)

    assert info.kind == "gif"
    assert (info.width, info.height) == (31, 21)
    assert info.fps == 10
    assert info.frame_count == 6
    assert info.duration == pytest.approx(0.6)
    assert info.mimetype == "image/gif"


def test_probe_gif_uneven_delays_is_variable(tmp_path: Path) -> None:
    path = write_gif(tmp_path / "anim.gif", frames=4, durations_ms=[100, 200, 100, 200])

    info = probe_upload(path)

    assert info.variable_frame_rate
    assert info.duration == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("image_format", "mimetype"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")],
)
def test_probe_still_formats(tmp_path: Path, image_format: str, mimetype: str) -> None:
    path = write_still(tmp_path / "still.img", image_format)

    info = probe_upload(path)

    assert info.kind == "image"
    assert info.fps is None
    assert info.frame_count == 1
    assert (info.width, info.height) == (40, 30)
    assert info.mimetype == mimetype


def test_probe_still_exif_orientation_swaps_size(tmp_path: Path) -> None:
    path = write_still(tmp_path / "photo.jpg", "JPEG", exif_orientation=6)

    info = probe_upload(path)

    assert (info.width, info.height) == (30, 40)


def test_probe_rejects_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)

    with pytest.raises(UnsupportedMedia):
        probe_upload(path)


def test_probe_rejects_audio_only(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "voice.m4a", codec="aac", container_format="mp4")

    with pytest.raises(UnsupportedMedia, match="only audio"):
        probe_upload(path)


def test_probe_rejects_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")

    with pytest.raises(UnsupportedMedia):
        probe_upload(path)


def _faststart_copy(tmp_path: Path) -> Path:
    """A textured clip with its index first, so a cut removes frames, not the index."""
    path = write_video(tmp_path / "clip.mp4", frames=40, textured=True)
    faststart = tmp_path / "faststart.mp4"
    mux_audio(path, faststart, None)
    return faststart


def test_probe_upload_rejects_truncated_mp4(tmp_path: Path) -> None:
    faststart = _faststart_copy(tmp_path)
    truncate(faststart, 0.6)

    with pytest.raises(InvalidMedia, match="truncated"):
        probe_upload(faststart)


def test_probe_worker_accepts_truncated_mp4(tmp_path: Path) -> None:
    faststart = _faststart_copy(tmp_path)
    truncate(faststart, 0.6)

    info = probe(faststart)

    assert 0 < info.frame_count < 40


def test_probe_rejects_index_without_data(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=20)
    truncate(path, 0.5)  # index at the end: it is cut off

    with pytest.raises((InvalidMedia, UnsupportedMedia)):
        probe_upload(path)


def test_probe_rejects_truncated_png(tmp_path: Path) -> None:
    path = truncate(write_still(tmp_path / "still.png", width=200, height=200), 0.5)

    with pytest.raises(InvalidMedia):
        probe_upload(path)


def test_probe_rejects_unsupported_image_format(tmp_path: Path) -> None:
    path = write_still(tmp_path / "still.bmp", "BMP")

    with pytest.raises(UnsupportedMedia):
        probe_upload(path)


def test_probe_animated_webp(tmp_path: Path) -> None:
    frames = [Image.fromarray(make_frame(i, 32, 24)) for i in range(4)]
    path = tmp_path / "anim.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)

    info = probe_upload(path)

    assert info.kind == "gif"
    assert info.frame_count == 4
    assert info.fps == 20
    assert info.mimetype == "image/webp"
