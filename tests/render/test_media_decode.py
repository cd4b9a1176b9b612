"""Decoding to RGB: rotation, constant-rate resampling, sampling, stills and GIFs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from render_factories import (
    decoded_index,
    set_mp4_rotation,
    write_gif,
    write_still,
    write_video,
)

from mage_studio.render.media import (
    even_indices,
    iter_frames,
    output_frame_count,
    probe,
    read_first_frame,
    read_last_frame,
    sample_frames,
)
from mage_studio.render.media.timeline import (
    normalise_rate,
    parse_rate,
    resample_to_rate,
)


def _red_quadrant(image: np.ndarray) -> str:
    height, width = image.shape[:2]
    quadrants = {
        "top-left": image[: height // 2, : width // 2],
        "top-right": image[: height // 2, width // 2 :],
        "bottom-left": image[height // 2 :, : width // 2],
        "bottom-right": image[height // 2 :, width // 2 :],
    }
    return max(
        quadrants,
        key=lambda name: float(
            quadrants[name][:, :, 0].mean() - quadrants[name][:, :, 1].mean()
        ),
    )


def test_decode_constant_rate_passes_through(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=10, rate=Fraction(24000, 1001))

    frames = list(iter_frames(path, rate=Fraction(24000, 1001)))

    assert [index for index, _ in frames] == list(range(10))
    assert [decoded_index(image) for _, image in frames] == list(range(10))
    assert frames[0][1].shape == (48, 64, 3)
    assert frames[0][1].dtype == np.uint8


@pytest.mark.parametrize(
    ("rotation", "shape", "corner"),
    [
        (90, (64, 48, 3), "top-right"),
        (180, (48, 64, 3), "bottom-right"),
        (270, (64, 48, 3), "bottom-left"),
    ],
)
def test_decode_applies_rotation(
    tmp_path: Path, rotation: int, shape: tuple[int, int, int], corner: str
) -> None:
    path = set_mp4_rotation(write_video(tmp_path / "phone.mp4", frames=2), rotation)

    image = read_first_frame(path)

    assert image.shape == shape
    assert _red_quadrant(image) == corner


def test_decode_doubles_frames_at_twice_the_rate(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=6, rate=Fraction(12))

    frames = list(iter_frames(path, rate=Fraction(24)))

    assert len(frames) == 12
    assert [decoded_index(image) for _, image in frames] == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
    ]


def test_decode_drops_frames_at_half_the_rate(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=12, rate=Fraction(24))

    frames = list(iter_frames(path, rate=Fraction(12)))

    assert len(frames) == 6
    assert [decoded_index(image) for _, image in frames] == [0, 2, 4, 6, 8, 10]


def test_decode_variable_rate_to_constant(tmp_path: Path) -> None:
    # Frames 2 and 5 last 70 ms, so at 25 fps (40 ms) each fills two output slots.
    stamps = [0, 40, 80, 150, 190, 230, 300]
    path = write_video(tmp_path / "vfr.mp4", frames=len(stamps), timestamps_ms=stamps)

    frames = list(iter_frames(path, rate=Fraction(25)))

    assert [decoded_index(image) for _, image in frames] == [0, 1, 2, 2, 3, 4, 5, 5, 6]


def test_decode_resizes_with_cover_crop(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=2, width=64, height=48)

    image = read_first_frame(path, size=(32, 32))

    assert image.shape == (32, 32, 3)


def test_decode_indices_and_limit(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=10)

    picked = [index for index, _ in iter_frames(path, indices=[1, 4, 9])]
    limited = [index for index, _ in iter_frames(path, limit=3)]

    assert picked == [1, 4, 9]
    assert limited == [0, 1, 2]


def test_sample_frames_even_over_clip(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=21)
    info = probe(path)

    samples = sample_frames(path, info, 5)

    assert [index for index, _ in samples] == [0, 5, 10, 15, 20]
    assert [decoded_index(image) for _, image in samples] == [0, 5, 10, 15, 20]


def test_read_last_frame(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=7)

    assert decoded_index(read_last_frame(path)) == 6


def test_decode_gif_at_its_rate(tmp_path: Path) -> None:
    path = write_gif(tmp_path / "anim.gif", frames=5)
    info = probe(path)

    frames = list(iter_frames(path, rate=info.fps))

    assert output_frame_count(info) == 5
    assert [decoded_index(image) for _, image in frames] == [0, 1, 2, 3, 4]
    assert frames[0][1].shape == (21, 31, 3)


def test_decode_still_single_frame(tmp_path: Path) -> None:
    path = write_still(tmp_path / "photo.jpg", "JPEG", exif_orientation=6)

    frames = list(iter_frames(path, rate=Fraction(24)))

    assert len(frames) == 1
    assert frames[0][1].shape == (40, 30, 3)
    assert _red_quadrant(frames[0][1]) == "top-right"


def test_even_indices() -> None:
    assert even_indices(100, 1) == [0]
    assert even_indices(100, 2) == [0, 99]
    assert even_indices(10, 4) == [0, 3, 6, 9]
    assert even_indices(3, 5) == [0, 1, 2]
    assert even_indices(0, 5) == []


def test_resample_keeps_short_clip() -> None:
    frames = [(Fraction(0), Fraction(1, 100), "only")]

    assert list(resample_to_rate(frames, Fraction(24), Fraction(1, 24))) == [
        (0, "only")
    ]


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        (Fraction(39600, 1321), Fraction(30000, 1001)),
        (Fraction(2997, 125), Fraction(24000, 1001)),
        (Fraction(1500, 43), Fraction(35)),
        (Fraction(25_000_001, 2_000_000), Fraction(25, 2)),
        (Fraction(14985, 1000), Fraction(15)),
        (Fraction(25), Fraction(25)),
    ],
)
def test_normalise_rate(measured: Fraction, expected: Fraction) -> None:
    assert normalise_rate(measured) == expected


def test_parse_rate_forms() -> None:
    assert parse_rate("24000/1001") == Fraction(24000, 1001)
    assert parse_rate("25") == 25
    assert parse_rate(29.97) == Fraction(30000, 1001)
    with pytest.raises(ValueError, match="outside"):
        parse_rate("0")
    with pytest.raises(ValueError, match="invalid"):
        parse_rate("fast")
