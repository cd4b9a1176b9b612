"""Renditions: square thumbnail, backdrop, poster and animated preview."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from studio_factories import write_clip

from mage_studio.render.studio import RENDITION_NAMES, make_renditions
from mage_studio.render.studio.renditions import (
    detail_focus,
    sharpness,
    still_rendition,
)


def checkerboard_frame(index: int, width: int, height: int) -> np.ndarray:
    """Flat gray frames, except frame 9, which is a sharp checkerboard."""
    image = np.full((height, width, 3), 90, dtype=np.uint8)
    if index == 9:
        ys, xs = np.indices((height, width))
        image[((ys // 4 + xs // 4) % 2).astype(bool)] = 230
    return image


def test_renditions_sizes_and_formats(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4", width=320, height=180, frames=36)

    paths = make_renditions(video, tmp_path / "renditions")

    assert set(paths) == set(RENDITION_NAMES)
    expected = {
        "thumbnail_square": ("JPEG", 180, 180),
        "backdrop": ("JPEG", 320, 180),
        "poster": ("JPEG", 101, 180),
    }
    for name, (image_format, width, height) in expected.items():
        with Image.open(paths[name]) as image:
            assert image.format == image_format
            assert image.size == (width, height)
    with Image.open(paths["animated_preview"]) as animation:
        assert animation.format == "WEBP"
        assert getattr(animation, "n_frames", 1) == 36  # 3 s at 12 fps
        assert max(animation.size) <= 384


def test_renditions_pick_the_sharpest_frame(tmp_path: Path) -> None:
    video = write_clip(
        tmp_path / "in.mp4", frame=checkerboard_frame, frames=12, rate=Fraction(12)
    )

    paths = make_renditions(video, tmp_path / "renditions")

    with Image.open(paths["thumbnail_square"]) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert pixels.std() > 40  # the checkerboard, not a flat gray frame


def test_renditions_of_short_clip(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4", frames=2)

    paths = make_renditions(video, tmp_path / "renditions")

    with Image.open(paths["animated_preview"]) as animation:
        assert getattr(animation, "n_frames", 1) == 2


def test_large_frame_shrinks_to_maximum() -> None:
    frame = np.zeros((2160, 3840, 3), dtype=np.uint8)

    backdrop = still_rendition(frame, Fraction(16, 9), 1280)
    poster = still_rendition(frame, Fraction(9, 16), 1280)

    assert backdrop.shape == (720, 1280, 3)
    assert poster.shape == (1280, 720, 3)


def test_detail_focus_leans_toward_detail() -> None:
    frame = np.full((100, 200, 3), 128, dtype=np.uint8)
    frame[40:60, 150:170] = 255  # a bright patch on the right

    x, y = detail_focus(frame)

    assert x > 0.6
    assert y == pytest.approx(0.5, abs=0.05)
    assert detail_focus(np.zeros((10, 10, 3), dtype=np.uint8)) == (0.5, 0.5)


def test_sharpness_orders_detail_above_flat() -> None:
    flat = np.full((32, 32, 3), 100, dtype=np.uint8)
    noisy = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)

    assert sharpness(flat) == 0.0
    assert sharpness(noisy) > 100


def test_renditions_of_sample_clip(
    tmp_path: Path, sample_media: Callable[[str], Path]
) -> None:
    paths = make_renditions(sample_media("iphone_rotated.mov"), tmp_path / "out")

    with Image.open(paths["poster"]) as poster:
        assert poster.size == (320, 568)  # the portrait clip already is about 9:16
    with Image.open(paths["backdrop"]) as backdrop:
        assert backdrop.size == (320, 180)
