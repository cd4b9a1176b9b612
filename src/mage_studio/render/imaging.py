"""Image helpers shared by media io, backends and pipelines.

Images are RGB `uint8` arrays of shape (height, width, 3), the layout PyAV's
`rgb24` and Pillow's `RGB` mode use. OpenCV is used for the pixel work because its
functions take such arrays directly (channel order matters only for colour
conversions, which name RGB explicitly here).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

RGBImage = npt.NDArray[np.uint8]
"""RGB image, shape (height, width, 3), dtype uint8."""

FloatArray = npt.NDArray[np.float32]


def ensure_rgb(image: npt.NDArray[np.generic]) -> RGBImage:
    """Return `image` as contiguous RGB uint8, dropping alpha and expanding gray."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    elif array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB image, got an array of shape {array.shape}")
    return np.ascontiguousarray(array)


def rotate_clockwise(image: RGBImage, degrees: int) -> RGBImage:
    """Rotate by a multiple of 90 degrees clockwise."""
    turns = (degrees // 90) % 4
    if turns == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=-turns))


def resize(image: RGBImage, width: int, height: int) -> RGBImage:
    """Resize to exactly width x height (area filter when shrinking)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrinking = width * height < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(image, (width, height), interpolation=interpolation)
    return np.ascontiguousarray(resized, dtype=np.uint8)


def resize_cover(image: RGBImage, width: int, height: int) -> RGBImage:
    """Scale to cover width x height, keeping the aspect ratio, and crop the centre.

    Used where a target size was rounded (to multiples of 8) or chosen by the model,
    so the aspect ratio may differ slightly from the source: a few pixels are
    cropped instead of stretching the picture.
    """
    source_height, source_width = image.shape[:2]
    if source_width == width and source_height == height:
        return image
    scale = max(width / source_width, height / source_height)
    scaled_width = max(width, round(source_width * scale))
    scaled_height = max(height, round(source_height * scale))
    scaled = resize(image, scaled_width, scaled_height)
    left = (scaled_width - width) // 2
    top = (scaled_height - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def fit_within(image: RGBImage, max_side: int) -> RGBImage:
    """Shrink so that neither side exceeds `max_side` (smaller images are unchanged)."""
    height, width = image.shape[:2]
    longest = max(width, height)
    if longest <= max_side:
        return image
    scale = max_side / longest
    return resize(image, max(1, round(width * scale)), max(1, round(height * scale)))


@dataclass(frozen=True, slots=True)
class LabStats:
    """Per-channel mean and standard deviation of an image in CIE L*a*b*."""

    mean: FloatArray
    std: FloatArray


def _to_lab(image: RGBImage) -> FloatArray:
    scaled = image.astype(np.float32) * np.float32(1.0 / 255.0)
    return np.asarray(cv2.cvtColor(scaled, cv2.COLOR_RGB2LAB), dtype=np.float32)


def lab_stats(image: RGBImage) -> LabStats:
    """Measure the colour statistics that `match_colors` transfers."""
    lab = _to_lab(image).reshape(-1, 3)
    return LabStats(
        mean=lab.mean(axis=0).astype(np.float32),
        std=lab.std(axis=0).astype(np.float32),
    )


def match_colors(image: RGBImage, reference: LabStats) -> RGBImage:
    """Transfer the reference's L*a*b* mean and standard deviation onto `image`.

    This is Reinhard et al.'s colour transfer (2001). Matching every frame to the
    first output frame keeps img2img renders from drifting in colour (flicker).
    """
    lab = _to_lab(image)
    flat = lab.reshape(-1, 3)
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    gain = reference.std / np.maximum(std, np.float32(1e-3))
    matched = (lab - mean) * gain + reference.mean
    matched[:, :, 0] = np.clip(matched[:, :, 0], 0.0, 100.0)
    rgb = cv2.cvtColor(matched.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.asarray(np.clip(rgb * 255.0 + 0.5, 0, 255), dtype=np.uint8)


def blend(first: RGBImage, second: RGBImage, weight: float) -> RGBImage:
    """Return first * (1 - weight) + second * weight."""
    mixed = cv2.addWeighted(first, 1.0 - weight, second, weight, 0.0)
    return np.asarray(mixed, dtype=np.uint8)


def round_to_multiple(value: float, multiple: int) -> int:
    """Round to the nearest positive multiple of `multiple`."""
    return max(multiple, round(value / multiple) * multiple)


def diffusion_size(
    width: int, height: int, *, max_side: int | None = None, multiple: int = 8
) -> tuple[int, int]:
    """Return a render size for Stable Diffusion: aspect kept, sides multiples of 8.

    Latent diffusion models work on 1/8-scale latents, so both sides must be
    multiples of 8. `max_side` scales large sources down first. Multiples of 8
    are also even, as H.264 with yuv420p requires.
    """
    scale = 1.0
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
    return (
        round_to_multiple(width * scale, multiple),
        round_to_multiple(height * scale, multiple),
    )
