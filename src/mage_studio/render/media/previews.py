"""Previews: thumbnail JPEG, last-frame PNG, animated WebP and a WebP strip."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from mage_studio.render.imaging import RGBImage, fit_within, resize

THUMBNAIL_MAX_SIDE = 512
ANIMATION_MAX_SIDE = 384
STRIP_FRAME_HEIGHT = 128
WEBP_MAX_SIDE = 16383
"""Largest width or height the WebP format can store."""


def save_thumbnail(
    image: RGBImage, path: Path, *, max_side: int = THUMBNAIL_MAX_SIDE
) -> Path:
    """Save a JPEG thumbnail no larger than `max_side` on either side."""
    Image.fromarray(fit_within(image, max_side)).save(path, format="JPEG", quality=85)
    return path


def save_png(image: RGBImage, path: Path) -> Path:
    """Save a lossless PNG, e.g. the last frame that an extension starts from."""
    Image.fromarray(image).save(path, format="PNG", compress_level=6)
    return path


def load_png(path: Path) -> RGBImage:
    """Load an RGB image saved by `save_png` (or any image Pillow reads)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def frame_durations_ms(count: int, rate: Fraction) -> list[int]:
    """Split `count` frames at `rate` into whole milliseconds that add up exactly.

    WebP stores durations in milliseconds, so 24000/1001 fps alternates 41 and
    42 ms per frame instead of drifting.
    """
    durations: list[int] = []
    elapsed = 0
    for index in range(1, count + 1):
        end = round(Fraction(index * 1000) / rate)
        durations.append(max(1, end - elapsed))
        elapsed = end
    return durations


def save_animation(
    frames: Sequence[RGBImage],
    path: Path,
    rate: Fraction,
    *,
    max_side: int = ANIMATION_MAX_SIDE,
) -> Path:
    """Save frames as a looping animated WebP (a still WebP for a single frame)."""
    if not frames:
        raise ValueError("an animation needs at least one frame")
    images = [Image.fromarray(fit_within(frame, max_side)) for frame in frames]
    if len(images) == 1:
        images[0].save(path, format="WEBP", quality=80)
        return path
    images[0].save(
        path,
        format="WEBP",
        save_all=True,
        append_images=images[1:],
        duration=frame_durations_ms(len(images), rate),
        loop=0,
        quality=80,
        method=1,  # encoder effort 0-6: 1 is several times faster than the default 4
    )
    return path


def save_strip(
    frames: Sequence[RGBImage], path: Path, *, frame_height: int = STRIP_FRAME_HEIGHT
) -> Path:
    """Save frames side by side in one WebP image (a contact strip of the preview)."""
    if not frames:
        raise ValueError("a strip needs at least one frame")
    source_height, source_width = frames[0].shape[:2]
    height = min(frame_height, source_height)
    width = max(1, round(source_width * height / source_height))
    if width * len(frames) > WEBP_MAX_SIDE:
        width = WEBP_MAX_SIDE // len(frames)
        height = max(1, round(source_height * width / source_width))
    strip = np.concatenate([resize(frame, width, height) for frame in frames], axis=1)
    Image.fromarray(strip).save(path, format="WEBP", quality=80)
    return path
