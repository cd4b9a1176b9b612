"""Frame geometry of studio outputs: sizes, focus crops, padding, solid fills."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from mage_studio.render.imaging import RGBImage, resize
from mage_studio.render.studio.options import RGB

BLUR_DOWNSCALE = 8
"""The blurred background is computed at 1/8 size, which is much faster and looks
nearly the same once enlarged."""
BLUR_DIM = 0.8
"""Brightness factor of the blurred background, so the picture in front is
easy to see."""


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in pixels: left, top, width, height."""

    left: int
    top: int
    width: int
    height: int

    def cut(self, image: RGBImage) -> RGBImage:
        return image[
            self.top : self.top + self.height, self.left : self.left + self.width
        ]


def even(value: float | Fraction) -> int:
    """Round down to an even number of at least 2 (H.264 with yuv420p needs it)."""
    rounded = int(value)
    return max(2, rounded - rounded % 2)


def scaled_size(
    width: int, height: int, max_height: int | None, *, upscale: bool = False
) -> tuple[int, int]:
    """Return an even (width, height) of the same aspect with height at most
    `max_height`; larger than the input only when `upscale` is set."""
    target = height if max_height is None else max_height
    if not upscale:
        target = min(target, height)
    scale = target / height
    return even(width * scale), even(target)


def size_for_aspect(height: int, aspect: Fraction) -> tuple[int, int]:
    """Return the even (width, height) of `aspect` (width / height) at `height`.

    The width is rounded to the nearest even number, so the aspect is off by at
    most one pixel of width.
    """
    return max(2, 2 * round(height * aspect / 2)), even(height)


def crop_box(
    width: int, height: int, aspect: Fraction, focus: tuple[float, float]
) -> Box:
    """Return the largest box of `aspect` inside width x height, centred on `focus`.

    `focus` is (x, y) in fractions of the size. The box is moved inward where the
    focus lies too close to an edge for the box to be centred on it.
    """
    if Fraction(width, height) > aspect:
        box_height = height
        box_width = min(width, max(1, round(height * aspect)))
    else:
        box_width = width
        box_height = min(height, max(1, round(width / aspect)))
    left = _place(focus[0] * width, box_width, width)
    top = _place(focus[1] * height, box_height, height)
    return Box(left, top, box_width, box_height)


def _place(centre: float, length: int, limit: int) -> int:
    start = round(centre - length / 2)
    return max(0, min(limit - length, start))


def fit_box(width: int, height: int, canvas_width: int, canvas_height: int) -> Box:
    """Return where a width x height picture sits, centred and whole, in a canvas."""
    scale = min(canvas_width / width, canvas_height / height)
    fitted_width = min(canvas_width, max(1, round(width * scale)))
    fitted_height = min(canvas_height, max(1, round(height * scale)))
    left = (canvas_width - fitted_width) // 2
    top = (canvas_height - fitted_height) // 2
    return Box(left, top, fitted_width, fitted_height)


def solid(width: int, height: int, color: RGB) -> RGBImage:
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:, :] = color
    return image


def blurred_cover(image: RGBImage, width: int, height: int) -> RGBImage:
    """Return the picture scaled to cover width x height, heavily blurred and dimmed."""
    small_width = max(2, width // BLUR_DOWNSCALE)
    small_height = max(2, height // BLUR_DOWNSCALE)
    small = resize(image, small_width, small_height)
    blurred = cv2.GaussianBlur(
        small, (0, 0), sigmaX=max(small_width, small_height) / 12
    )
    dimmed = (blurred.astype(np.float32) * BLUR_DIM).astype(np.uint8)
    return resize(np.ascontiguousarray(dimmed), width, height)


def pad(
    image: RGBImage, width: int, height: int, *, color: RGB | None = None
) -> RGBImage:
    """Fit the whole picture into width x height, on a colour or a blurred copy.

    `color` None fills the bars with the picture itself, blurred (as phones show a
    landscape clip in a portrait frame).
    """
    box = fit_box(image.shape[1], image.shape[0], width, height)
    if color is None:
        canvas = blurred_cover(image, width, height)
    else:
        canvas = solid(width, height, color)
    canvas = np.array(canvas, copy=True)
    canvas[box.top : box.top + box.height, box.left : box.left + box.width] = resize(
        image, box.width, box.height
    )
    return canvas


def paste(canvas: RGBImage, image: RGBImage, left: int, top: int) -> None:
    """Copy `image` into `canvas` at (left, top), in place."""
    height, width = image.shape[:2]
    canvas[top : top + height, left : left + width] = image


def draw_border(canvas: RGBImage, box: Box, thickness: int, color: RGB) -> None:
    """Draw a rectangle `thickness` pixels wide just inside `box`, in place."""
    if thickness <= 0:
        return
    region = canvas[box.top : box.top + box.height, box.left : box.left + box.width]
    region[:thickness, :] = color
    region[-thickness:, :] = color
    region[:, :thickness] = color
    region[:, -thickness:] = color
