"""Watermarks: validation by decoding, placement and blending."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from render_factories import truncate
from studio_factories import write_logo

from mage_studio.render.errors import InvalidMedia, UnsupportedMedia
from mage_studio.render.studio.options import WatermarkPlacement
from mage_studio.render.studio.watermark import (
    WatermarkOverlay,
    load_watermark,
    validate_watermark,
)


def placement(**values: Any) -> WatermarkPlacement:
    return WatermarkPlacement.model_validate(values)


def test_validate_png_with_alpha(tmp_path: Path) -> None:
    info = validate_watermark(write_logo(tmp_path / "logo.png", 40, 20))

    assert (info.width, info.height) == (40, 20)
    assert info.has_alpha
    assert info.size_bytes > 0


def test_validate_png_without_alpha(tmp_path: Path) -> None:
    path = tmp_path / "opaque.png"
    Image.new("RGB", (16, 16), (10, 20, 30)).save(path, format="PNG")

    assert not validate_watermark(path).has_alpha
    assert load_watermark(path)[0, 0].tolist() == [10, 20, 30, 255]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("logo.txt", b"not an image at all", UnsupportedMedia),
        ("logo.jpg", None, UnsupportedMedia),
    ],
)
def test_validate_rejects_other_formats(
    tmp_path: Path, name: str, content: bytes | None, error: type[Exception]
) -> None:
    path = tmp_path / name
    if content is None:
        Image.new("RGB", (32, 32)).save(path, format="JPEG")
    else:
        path.write_bytes(content)

    with pytest.raises(error):
        validate_watermark(path)


def test_validate_rejects_truncated_png(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    noise = np.random.default_rng(3).integers(0, 255, (200, 200, 4), dtype=np.uint8)
    Image.fromarray(noise, mode="RGBA").save(path, format="PNG")
    truncate(path, 0.5)

    with pytest.raises(InvalidMedia, match="damaged"):
        validate_watermark(path)


def test_validate_rejects_tiny_and_huge(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.png"
    Image.new("RGBA", (4, 40)).save(tiny, format="PNG")
    huge = tmp_path / "huge.png"
    Image.new("L", (5000, 10)).save(huge, format="PNG")

    with pytest.raises(InvalidMedia, match="minimum"):
        validate_watermark(tiny)
    with pytest.raises(InvalidMedia, match="maximum"):
        validate_watermark(huge)


@pytest.mark.parametrize(
    ("position", "left", "top"),
    [
        ("top-left", 6, 6),
        ("top-right", 200 - 40 - 6, 6),
        ("bottom-left", 6, 100 - 20 - 6),
        ("bottom-right", 200 - 40 - 6, 100 - 20 - 6),
        ("center", 80, 40),
    ],
)
def test_overlay_positions(tmp_path: Path, position: str, left: int, top: int) -> None:
    overlay = WatermarkOverlay(
        load_watermark(write_logo(tmp_path / "logo.png", 40, 20)),
        placement(position=position, margin=0.06, scale=0.2),
    )

    box = overlay.box_for(200, 100)

    assert (box.left, box.top, box.width, box.height) == (left, top, 40, 20)


def test_overlay_shrinks_to_fit_margins(tmp_path: Path) -> None:
    overlay = WatermarkOverlay(
        load_watermark(write_logo(tmp_path / "logo.png", 20, 40)),
        placement(scale=1.0, margin=0.1),
    )

    box = overlay.box_for(100, 100)

    assert box.height == 80
    assert box.width == 40
    assert box.top == 10


def test_overlay_blends_by_alpha_and_opacity(tmp_path: Path) -> None:
    overlay = WatermarkOverlay(
        load_watermark(write_logo(tmp_path / "logo.png", 40, 20)),
        placement(position="top-left", margin=0, scale=0.2, opacity=0.5),
    )
    frame = np.zeros((100, 200, 3), dtype=np.uint8)

    marked = overlay.apply(frame)

    assert marked[5:15, 2:18].mean() == pytest.approx(128, abs=2)  # white at 50 %
    assert marked[5:15, 22:38].max() == 0  # transparent half leaves the frame
    assert frame.max() == 0  # the input is not modified
