"""Branding: validating a watermark PNG and drawing it on frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from mage_studio.render.errors import InvalidMedia, UnsupportedMedia
from mage_studio.render.imaging import RGBImage
from mage_studio.render.media.images import PILLOW_ERRORS
from mage_studio.render.studio.canvas import Box
from mage_studio.render.studio.options import WatermarkPlacement

MAX_WATERMARK_SIDE = 4096
MIN_WATERMARK_SIDE = 8
RGBAImage = npt.NDArray[np.uint8]
"""RGBA image, shape (height, width, 4), dtype uint8."""


@dataclass(frozen=True, slots=True)
class WatermarkInfo:
    """Properties of a validated watermark image."""

    width: int
    height: int
    has_alpha: bool
    size_bytes: int


def validate_watermark(path: Path) -> WatermarkInfo:
    """Decode a watermark upload completely and return its properties.

    Raises UnsupportedMedia for anything but a still PNG, and InvalidMedia for a
    damaged PNG or one outside 8-4096 pixels per side.
    """
    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                raise UnsupportedMedia(
                    "The watermark must be a PNG image (with transparency, ideally)."
                )
            if getattr(image, "n_frames", 1) > 1:
                raise UnsupportedMedia("Animated PNG watermarks are not supported.")
            image.load()
            width, height = image.size
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                "transparency" in image.info
            )
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise UnsupportedMedia("The watermark must be a PNG image.") from error
    except PILLOW_ERRORS as error:
        raise InvalidMedia(
            f"The watermark PNG is damaged and cannot be read: {error}"
        ) from error
    _check_size(width, height)
    return WatermarkInfo(width, height, has_alpha, path.stat().st_size)


def _check_size(width: int, height: int) -> None:
    if max(width, height) > MAX_WATERMARK_SIDE:
        raise InvalidMedia(
            f"The watermark is {width}x{height} pixels; the maximum is "
            f"{MAX_WATERMARK_SIDE} per side."
        )
    if min(width, height) < MIN_WATERMARK_SIDE:
        raise InvalidMedia(
            f"The watermark is {width}x{height} pixels; the minimum is "
            f"{MIN_WATERMARK_SIDE} per side."
        )


def load_watermark(path: Path) -> RGBAImage:
    """Load a validated watermark as RGBA (opaque where the PNG has no alpha)."""
    validate_watermark(path)
    with Image.open(path) as image:
        return np.ascontiguousarray(np.asarray(image.convert("RGBA"), dtype=np.uint8))


class WatermarkOverlay:
    """Draws one watermark on frames; the scaled image is prepared once per size."""

    def __init__(self, image: RGBAImage, placement: WatermarkPlacement) -> None:
        self.image = image
        self.placement = placement
        self._prepared: tuple[tuple[int, int], Box, npt.NDArray[np.float32]] | None
        self._prepared = None

    def apply(self, frame: RGBImage) -> RGBImage:
        """Return a copy of `frame` with the watermark blended in."""
        height, width = frame.shape[:2]
        box, premultiplied = self._prepare(width, height)
        output = np.array(frame, copy=True)
        region = output[box.top : box.top + box.height, box.left : box.left + box.width]
        colour = premultiplied[:, :, :3]
        alpha = premultiplied[:, :, 3:]
        blended = region.astype(np.float32) * (1.0 - alpha) + colour
        region[:] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return output

    def box_for(self, width: int, height: int) -> Box:
        """Return where the watermark goes on a width x height frame."""
        return self._prepare(width, height)[0]

    def _prepare(self, width: int, height: int) -> tuple[Box, npt.NDArray[np.float32]]:
        if self._prepared is not None and self._prepared[0] == (width, height):
            return self._prepared[1], self._prepared[2]
        box = self._place(width, height)
        scaled = cv2.resize(
            self._premultiplied(), (box.width, box.height), interpolation=cv2.INTER_AREA
        )
        prepared = np.asarray(scaled, dtype=np.float32).reshape(
            box.height, box.width, 4
        )
        self._prepared = ((width, height), box, prepared)
        return box, prepared

    def _premultiplied(self) -> npt.NDArray[np.float32]:
        # Colours are multiplied by their alpha before scaling, so transparent
        # pixels do not bleed a dark fringe into the edges of the logo.
        rgba = self.image.astype(np.float32) / 255.0
        alpha = rgba[:, :, 3:] * self.placement.opacity
        result = np.empty_like(rgba)
        result[:, :, :3] = rgba[:, :, :3] * alpha * 255.0
        result[:, :, 3:] = alpha
        return result

    def _place(self, width: int, height: int) -> Box:
        placement = self.placement
        margin = round(placement.margin * min(width, height))
        source_height, source_width = self.image.shape[:2]
        target_width = placement.scale * width
        target_height = target_width * source_height / source_width
        # Shrink to fit inside the margins, whatever the scale asked for.
        fit = min(
            1.0,
            max(1, width - 2 * margin) / target_width,
            max(1, height - 2 * margin) / target_height,
        )
        box_width = max(1, round(target_width * fit))
        box_height = max(1, round(target_height * fit))
        horizontal, vertical = _anchor(placement.position)
        left = _offset(horizontal, width, box_width, margin)
        top = _offset(vertical, height, box_height, margin)
        return Box(left, top, box_width, box_height)


def _anchor(position: str) -> tuple[str, str]:
    if position == "center":
        return "center", "center"
    vertical, horizontal = position.split("-")
    return horizontal, vertical


def _offset(anchor: str, length: int, size: int, margin: int) -> int:
    if anchor in ("left", "top"):
        offset = margin
    elif anchor in ("right", "bottom"):
        offset = length - size - margin
    else:
        offset = (length - size) // 2
    return max(0, min(length - size, offset))
