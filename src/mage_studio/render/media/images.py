"""Still and animated images (PNG, JPEG, WebP, GIF) read with Pillow."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mage_studio.render.errors import InvalidMedia, UnsupportedMedia
from mage_studio.render.imaging import RGBImage, ensure_rgb
from mage_studio.render.media.timeline import normalise_rate

IMAGE_MIMETYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # multi-picture JPEG written by some phone cameras
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
"""Pillow format names of the image formats the studio accepts."""

MIN_FRAME_DURATION_MS = 20
DEFAULT_FRAME_DURATION_MS = 100
# Browsers show GIF frames with a delay under 20 ms for 100 ms. Doing the same keeps
# such animations at the speed their authors saw.

PILLOW_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    struct.error,
)
"""Exceptions Pillow's format plugins raise on damaged files (seen on cut GIFs)."""

_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


@dataclass(frozen=True, slots=True)
class ImageProbe:
    """Properties that Pillow reads from an image file."""

    format: str
    width: int
    height: int
    frame_durations_ms: tuple[int, ...]
    exif_orientation: int

    @property
    def animated(self) -> bool:
        return len(self.frame_durations_ms) > 1


def animation_rate(durations_ms: tuple[int, ...]) -> Fraction:
    """Return an animation's frame rate, exact when all frames last equally long."""
    if len(set(durations_ms)) == 1:
        return normalise_rate(Fraction(1000, durations_ms[0]))
    return normalise_rate(Fraction(1000 * len(durations_ms), sum(durations_ms)))


def identify_image(path: Path) -> str | None:
    """Return the Pillow format name of `path`, or None when Pillow cannot tell."""
    try:
        with Image.open(path) as image:
            return str(image.format)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return None
    except PILLOW_ERRORS:
        return None


def probe_image(path: Path) -> ImageProbe:
    """Decode every frame of a supported image to validate it and read its timing.

    Raises UnsupportedMedia for formats outside IMAGE_MIMETYPES and for images over
    Pillow's decompression-bomb limit, InvalidMedia for damaged files.
    """
    try:
        with Image.open(path) as image:
            image_format = str(image.format)
            if image_format not in IMAGE_MIMETYPES:
                raise UnsupportedMedia(
                    f"Images in {image_format} format are not supported. "
                    "Upload PNG, JPEG, WebP or GIF."
                )
            orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1) or 1)
            durations = tuple(_frame_durations(image))
            width, height = image.size
    except Image.DecompressionBombError as error:
        raise UnsupportedMedia(f"The image is too large to process: {error}") from error
    except PILLOW_ERRORS as error:
        raise InvalidMedia(
            f"The image file is damaged and cannot be read: {error}"
        ) from error
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    return ImageProbe(image_format, width, height, durations, orientation)


def _frame_durations(image: Image.Image) -> Iterator[int]:
    frame_count = int(getattr(image, "n_frames", 1))
    for index in range(frame_count):
        image.seek(index)
        image.load()
        yield frame_duration_ms(image)


def frame_duration_ms(image: Image.Image) -> int:
    """Return the display time of the current frame, as browsers apply it."""
    duration = image.info.get("duration")
    if not isinstance(duration, int | float) or duration < MIN_FRAME_DURATION_MS:
        return DEFAULT_FRAME_DURATION_MS
    return int(duration)


def load_still(path: Path) -> RGBImage:
    """Load the first frame of an image as RGB with its EXIF orientation applied."""
    try:
        with Image.open(path) as image:
            oriented = ImageOps.exif_transpose(image)
            return ensure_rgb(np.asarray(_to_rgb(oriented)))
    except Image.DecompressionBombError as error:
        raise UnsupportedMedia(f"The image is too large to process: {error}") from error
    except PILLOW_ERRORS as error:
        raise InvalidMedia(
            f"The image file is damaged and cannot be read: {error}"
        ) from error


def iter_animation(path: Path) -> Iterator[tuple[Fraction, Fraction, RGBImage]]:
    """Yield (start, duration, image) per frame of an animation, times in seconds."""
    try:
        with Image.open(path) as image:
            start = Fraction(0)
            for index in range(int(getattr(image, "n_frames", 1))):
                image.seek(index)
                duration = Fraction(frame_duration_ms(image), 1000)
                yield start, duration, ensure_rgb(np.asarray(_to_rgb(image)))
                start += duration
    except PILLOW_ERRORS as error:
        raise InvalidMedia(
            f"The image file is damaged and cannot be read: {error}"
        ) from error


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert to RGB, compositing transparent pixels over black."""
    if image.mode == "RGB":
        return image
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
