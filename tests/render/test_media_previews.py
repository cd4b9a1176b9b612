"""Thumbnails, last-frame PNGs, animated WebP previews and strips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image
from render_factories import make_frame

from mage_studio.render.imaging import diffusion_size
from mage_studio.render.media import (
    load_png,
    save_animation,
    save_png,
    save_strip,
    save_thumbnail,
)
from mage_studio.render.media.previews import frame_durations_ms


def test_thumbnail_is_jpeg_within_limit(tmp_path: Path) -> None:
    image = make_frame(1, 1024, 576)

    save_thumbnail(image, tmp_path / "thumb.jpg", max_side=256)

    with Image.open(tmp_path / "thumb.jpg") as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (256, 144)


def test_png_round_trip_is_lossless(tmp_path: Path) -> None:
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)

    save_png(image, tmp_path / "last.png")

    assert np.array_equal(load_png(tmp_path / "last.png"), image)


def test_animation_frames_and_timing(tmp_path: Path) -> None:
    frames = [make_frame(i, 64, 48) for i in range(6)]

    save_animation(frames, tmp_path / "preview.webp", Fraction(24000, 1001))

    with Image.open(tmp_path / "preview.webp") as animation:
        assert animation.format == "WEBP"
        assert animation.n_frames == 6
        assert animation.info["loop"] == 0
        durations = []
        for index in range(animation.n_frames):
            animation.seek(index)
            animation.load()
            durations.append(animation.info["duration"])
    assert sum(durations) == round(6 * 1001 / 24)


def test_animation_single_frame_is_still(tmp_path: Path) -> None:
    save_animation([make_frame(0, 64, 48)], tmp_path / "one.webp", Fraction(24))

    with Image.open(tmp_path / "one.webp") as image:
        assert getattr(image, "n_frames", 1) == 1


def test_strip_places_frames_side_by_side(tmp_path: Path) -> None:
    frames = [make_frame(i, 256, 144) for i in range(4)]

    save_strip(frames, tmp_path / "strip.webp", frame_height=72)

    with Image.open(tmp_path / "strip.webp") as strip:
        assert strip.size == (4 * 128, 72)


def test_frame_durations_sum_exactly() -> None:
    durations = frame_durations_ms(24, Fraction(24000, 1001))

    assert sum(durations) == 1001
    assert set(durations) <= {41, 42}


def test_diffusion_size_multiples_of_eight() -> None:
    assert diffusion_size(314, 273) == (312, 272)
    assert diffusion_size(320, 568, max_side=512) == (288, 512)
    assert diffusion_size(1920, 1080, max_side=512) == (512, 288)
    assert diffusion_size(3, 3) == (8, 8)
