"""2D camera motion and noise for Deforum frames (OpenCV and NumPy).

The warp follows Deforum's 2D mode (`anim_frame_warp_2d` in sd-webui-deforum):
translate, then rotate and scale around the transform centre, optionally followed
by a perspective flip, all applied with `cv2.warpPerspective`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from mage_studio.render.imaging import FloatArray, RGBImage

Border = Literal["replicate", "wrap", "constant"]

TRANSLATION_Z_DEPTH = 200.0
"""Deforum's 3D camera moves translation_z / 200 of the scene depth per frame."""
MAX_TRANSLATION_Z = 190.0


@dataclass(frozen=True, slots=True)
class Perspective:
    """Rotation of the picture plane in degrees, seen by a camera of `fov` degrees."""

    theta: float = 0.0
    """Tilt around the horizontal axis."""
    phi: float = 0.0
    """Turn around the vertical axis."""
    gamma: float = 0.0
    """Roll around the viewing axis."""
    fov: float = 53.0


@dataclass(frozen=True, slots=True)
class Motion:
    """The camera motion of one frame relative to the previous one."""

    zoom: float = 1.0
    angle: float = 0.0
    translation_x: float = 0.0
    translation_y: float = 0.0
    center_x: float = 0.5
    """Transform centre as a fraction of the width."""
    center_y: float = 0.5
    perspective: Perspective | None = None

    @property
    def is_identity(self) -> bool:
        return (
            self.zoom == 1.0
            and self.angle == 0.0
            and self.translation_x == 0.0
            and self.translation_y == 0.0
            and self.perspective is None
        )


def zoom_from_translation_z(translation_z: float) -> float:
    """Convert a Deforum 3D `translation_z` into the 2D zoom factor it resembles.

    In Deforum's 3D mode the camera moves translation_z / 200 of the (unit) scene
    depth towards the picture, which magnifies it by 200 / (200 - translation_z).
    Values are clamped to +-190 so the factor stays finite.
    """
    clamped = max(-MAX_TRANSLATION_Z, min(MAX_TRANSLATION_Z, translation_z))
    return TRANSLATION_Z_DEPTH / (TRANSLATION_Z_DEPTH - clamped)


def motion_matrix(width: int, height: int, motion: Motion) -> FloatArray:
    """Return the 3x3 matrix that maps source pixels to their next-frame position."""
    center = (width * motion.center_x, height * motion.center_y)
    rotation = np.vstack(
        [cv2.getRotationMatrix2D(center, motion.angle, motion.zoom), [0, 0, 1]]
    )
    translation = np.array(
        [[1, 0, motion.translation_x], [0, 1, motion.translation_y], [0, 0, 1]],
        dtype=np.float64,
    )
    matrix = rotation @ translation
    if motion.perspective is not None:
        matrix = perspective_matrix(width, height, motion.perspective) @ matrix
    return matrix.astype(np.float32)


def perspective_matrix(width: int, height: int, perspective: Perspective) -> FloatArray:
    """Return the homography that shows the picture plane rotated in 3D.

    The corners are rotated around the picture centre and projected by a pinhole
    camera whose field of view spans the picture diagonal, so zero angles give the
    identity.
    """
    theta, phi, gamma = (
        math.radians(a) for a in (perspective.theta, perspective.phi, perspective.gamma)
    )
    fov = math.radians(min(max(perspective.fov, 1.0), 179.0))
    distance = math.hypot(width, height) / 2 / math.tan(fov / 2)
    rotation = _rotation_z(gamma) @ _rotation_y(phi) @ _rotation_x(theta)
    half_w, half_h = width / 2, height / 2
    corners = np.array(
        [
            [-half_w, -half_h, 0],
            [half_w, -half_h, 0],
            [half_w, half_h, 0],
            [-half_w, half_h, 0],
        ]
    )
    rotated = corners @ rotation.T
    depth = np.maximum(rotated[:, 2] + distance, 1e-3)
    projected = rotated[:, :2] * (distance / depth)[:, None] + [half_w, half_h]
    source = (corners[:, :2] + [half_w, half_h]).astype(np.float32)
    return np.asarray(
        cv2.getPerspectiveTransform(source, projected.astype(np.float32)),
        dtype=np.float32,
    )


def _rotation_x(angle: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rotation_y(angle: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rotation_z(angle: float) -> npt.NDArray[np.float64]:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


_BORDERS = {
    "replicate": cv2.BORDER_REPLICATE,
    "wrap": cv2.BORDER_WRAP,
    "constant": cv2.BORDER_CONSTANT,
}


def warp(image: RGBImage, motion: Motion, border: Border = "replicate") -> RGBImage:
    """Apply one frame of camera motion to `image` (same size out)."""
    if motion.is_identity:
        return image
    height, width = image.shape[:2]
    warped = cv2.warpPerspective(
        image,
        motion_matrix(width, height, motion),
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=_BORDERS[border],
    )
    return np.asarray(warped, dtype=np.uint8)


def adjust_contrast(image: RGBImage, contrast: float) -> RGBImage:
    """Scale pixel values by `contrast` like Deforum's contrast schedule (clipped)."""
    if contrast == 1.0:
        return image
    return np.asarray(
        cv2.convertScaleAbs(image, alpha=contrast, beta=0), dtype=np.uint8
    )


@dataclass(frozen=True, slots=True)
class NoiseSettings:
    """Deforum's noise options: white noise, optionally shaped by Perlin noise."""

    kind: Literal["uniform", "perlin"] = "perlin"
    perlin_octaves: int = 4
    perlin_persistence: float = 0.5
    perlin_cells_x: int = 8
    perlin_cells_y: int = 8


def add_noise(
    image: RGBImage, amount: float, seed: int, settings: NoiseSettings
) -> RGBImage:
    """Blend a seeded noise picture into `image` by `amount` (0-1), like Deforum.

    Deforum draws Gaussian noise, maps it to pixel values around mid-gray
    (0.5 + noise / 2, clipped) and mixes it in with weight `amount`. Perlin mode
    multiplies the white noise by Perlin noise shifted to 0-1, so grain appears
    in patches. The white noise comes from OpenCV's per-thread generator, seeded
    on every call, which is several times faster than NumPy's.
    """
    if amount <= 0:
        return image
    height, width = image.shape[:2]
    cv2.setRNGSeed(seed & 0x7FFFFFFF)
    noise = np.empty((height, width, 3), dtype=np.float32)
    cv2.randn(noise, np.zeros(3), np.ones(3))
    if settings.kind == "perlin":
        rng = np.random.default_rng(seed & 0xFFFFFFFF)
        pattern = perlin_octaves(height, width, settings, rng)
        noise *= ((pattern + 1) / 2)[:, :, None]
    noise *= 127.5
    noise += 127.5
    np.clip(noise, 0, 255, out=noise)
    mixed = cv2.addWeighted(image, 1 - amount, noise.astype(np.uint8), amount, 0)
    return np.asarray(mixed, dtype=np.uint8)


def perlin_octaves(
    height: int, width: int, settings: NoiseSettings, rng: np.random.Generator
) -> FloatArray:
    """Sum octaves of 2D Perlin noise, each twice as fine and `persistence` as strong.

    The sum is computed at two samples per cell of the finest octave and scaled
    up bilinearly, which keeps its look (it only shapes where grain appears) at
    a fraction of the cost of a full-resolution field.
    """
    octaves = max(1, settings.perlin_octaves)
    finest = 2 ** (octaves - 1)
    cells_y = max(1, settings.perlin_cells_y)
    cells_x = max(1, settings.perlin_cells_x)
    work_height = min(height, 2 * cells_y * finest)
    work_width = min(width, 2 * cells_x * finest)
    total = np.zeros((work_height, work_width), dtype=np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        scale = 2**octave
        layer = _perlin(
            work_height, work_width, (cells_y * scale, cells_x * scale), rng
        )
        total += amplitude * layer
        amplitude *= settings.perlin_persistence
    if (work_height, work_width) == (height, width):
        return total
    resized = cv2.resize(total, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(resized, dtype=np.float32)


def _perlin(
    height: int, width: int, cells: tuple[int, int], rng: np.random.Generator
) -> FloatArray:
    """Return one layer of gradient noise with `cells` lattice cells over the image."""
    cells_y, cells_x = cells
    angles = rng.uniform(0, 2 * math.pi, (cells_y + 1, cells_x + 1)).astype(np.float32)
    gradient_x, gradient_y = np.cos(angles), np.sin(angles)
    ys = np.arange(height, dtype=np.float32) * np.float32(cells_y / height)
    xs = np.arange(width, dtype=np.float32) * np.float32(cells_x / width)
    y0, x0 = ys.astype(np.int32), xs.astype(np.int32)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]

    def corner(dy: int, dx: int) -> FloatArray:
        rows_x = np.take(gradient_x, y0 + dy, axis=0)
        rows_y = np.take(gradient_y, y0 + dy, axis=0)
        grad_x = np.take(rows_x, x0 + dx, axis=1)
        grad_y = np.take(rows_y, x0 + dx, axis=1)
        return np.asarray(grad_x * (fx - dx) + grad_y * (fy - dy), dtype=np.float32)

    top_left, top_right = corner(0, 0), corner(0, 1)
    bottom_left, bottom_right = corner(1, 0), corner(1, 1)
    uy, ux = _fade(fy), _fade(fx)
    top = top_left + ux * (top_right - top_left)
    bottom = bottom_left + ux * (bottom_right - bottom_left)
    return np.asarray(math.sqrt(2) * (top + uy * (bottom - top)), dtype=np.float32)


def _fade(t: FloatArray) -> FloatArray:
    return np.asarray(6 * t**5 - 15 * t**4 + 10 * t**3, dtype=np.float32)
