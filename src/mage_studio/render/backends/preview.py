"""Deterministic CPU stylisation used in place of Stable Diffusion.

No model is involved: the output is a colour-graded, posterised or inked version
of the input, chosen from a hash of the prompt. It lets every flow, test and
demo run without a GPU while still responding visibly to the parameters:

- prompt: picks the palette and the style (gradient map, posterise, ink, glow).
- seed: shifts the palette slightly, so different seeds give different frames.
- cfg: strength of contrast and saturation (7 is neutral).
- denoising: blend between the input (0) and the fully stylised frame (1).

The negative prompt, steps and model do not change the output.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from mage_studio.render.backends.base import Backend
from mage_studio.render.imaging import RGBImage

STYLES = ("gradient", "posterize", "ink", "glow")
NEUTRAL_CFG = 7.0
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
"""ITU-R BT.601 luma weights, as OpenCV's RGB-to-gray conversion uses."""


@dataclass(frozen=True, slots=True)
class PreviewStyle:
    """Look derived from a prompt and seed."""

    kind: str
    palette: npt.NDArray[np.uint8]
    """Gradient from shadows to highlights as a (256, 1, 3) RGB lookup table."""
    levels: int


def _palette_colors(digest: bytes, seed: int) -> list[tuple[float, float, float]]:
    base_hue = digest[0] / 255
    spread = 0.15 + digest[1] / 255 * 0.5
    # Knuth's multiplicative hash spreads neighbouring seeds. The shift stays small,
    # so seeds vary the frames without changing the look.
    seed_shift = ((seed * 2654435761) % 2**32) / 2**32 * 0.08
    colors = []
    for stop in range(3):
        hue = (base_hue + stop * spread + seed_shift) % 1.0
        saturation = 0.55 + digest[2 + stop] / 255 * 0.45
        colors.append(colorsys.hsv_to_rgb(hue, saturation, 0.8))
    return colors


@lru_cache(maxsize=256)
def style_for(prompt: str, seed: int, cfg: float = NEUTRAL_CFG) -> PreviewStyle:
    """Return the style for a prompt, seed and cfg.

    The palette keeps each gray level's luminance and only adds the hue ramp's
    colour, scaled by the cfg saturation. Applying the style again therefore
    keeps the picture's structure, which matters in Deforum's feedback loop,
    where each frame is the stylised previous frame. Results are cached because
    Deforum renders reuse them frame after frame.
    """
    digest = hashlib.sha256(prompt.strip().lower().encode("utf-8")).digest()
    colors = np.array(_palette_colors(digest, seed), dtype=np.float32) * 255
    positions = np.linspace(0, 255, len(colors))
    ramp = np.stack(
        [
            np.interp(np.arange(256), positions, colors[:, channel])
            for channel in range(3)
        ],
        axis=-1,
    )
    levels_column = np.arange(256, dtype=np.float64)[:, None]
    # Full colour in the mid-tones, half of it towards black and white, where
    # more would only clip.
    envelope = 0.5 + 0.5 * np.sin(np.pi * levels_column / 255)
    chroma = (ramp - (ramp @ LUMA_WEIGHTS)[:, None]) * envelope
    saturation = min(max(cfg, 1.0), 30.0) / NEUTRAL_CFG
    palette_values = levels_column + chroma * saturation
    palette = np.clip(palette_values + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    kind = STYLES[digest[5] % len(STYLES)]
    levels = 3 + digest[6] % 4
    return PreviewStyle(kind, palette, levels)


@lru_cache(maxsize=64)
def _contrast_lut(cfg: float) -> npt.NDArray[np.uint8]:
    """Return a contrast curve around mid-gray: neutral at cfg 7, +4 % per cfg step."""
    gain = 1.0 + 0.04 * (min(max(cfg, 1.0), 30.0) - NEUTRAL_CFG)
    values = (np.arange(256, dtype=np.float32) - 128) * gain + 128
    return np.asarray(np.clip(values + 0.5, 0, 255), dtype=np.uint8)


@lru_cache(maxsize=8)
def _posterize_lut(levels: int) -> npt.NDArray[np.uint8]:
    step = 256 // levels
    return (np.arange(256) // step * step + step // 2).clip(0, 255).astype(np.uint8)


class PreviewBackend(Backend):
    """Fast, deterministic stand-in for img2img (about 1-3 ms per 512x512 frame)."""

    name: ClassVar[str] = "preview"
    label: ClassVar[str] = "preview: CPU stylisation, no diffusion model"

    def img2img(
        self,
        image: RGBImage,
        prompt: str,
        negative_prompt: str,
        seed: int,
        cfg: float,
        denoising: float,
        steps: int,
        model: str | None,
    ) -> RGBImage:
        style = style_for(prompt, seed, float(cfg))
        styled = _stylise(image, style, cfg)
        weight = min(max(denoising, 0.0), 1.0)
        if weight >= 1.0:
            return styled
        mixed = cv2.addWeighted(image, 1.0 - weight, styled, weight, 0.0)
        return np.asarray(mixed, dtype=np.uint8)


def _restore_contrast(gray: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Pull the tone range towards a full one, as a diffusion model keeps contrast.

    Without this, Deforum's noise would fade the picture a little more on every
    frame. Sharpening is deliberately left out: repeated zooms blur the picture
    less near the zoom centre, and sharpening grows that into a visible cross.
    """
    equalized = cv2.equalizeHist(gray)
    return np.asarray(cv2.addWeighted(gray, 0.6, equalized, 0.4, 0.0), dtype=np.uint8)


def _stylise(image: RGBImage, style: PreviewStyle, cfg: float) -> RGBImage:
    gray = _restore_contrast(np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)))
    gray = np.asarray(cv2.LUT(gray, _contrast_lut(cfg)), dtype=np.uint8)
    if style.kind == "posterize":
        gray = np.asarray(cv2.LUT(gray, _posterize_lut(style.levels)), dtype=np.uint8)
    mapped = cv2.applyColorMap(gray, style.palette)
    if style.kind == "ink":
        edges = cv2.Canny(gray, 60, 140)
        mapped = cv2.bitwise_and(mapped, mapped, mask=cv2.bitwise_not(edges))
    elif style.kind == "glow":
        size = (max(1, mapped.shape[1] // 8), max(1, mapped.shape[0] // 8))
        small = cv2.resize(mapped, size, interpolation=cv2.INTER_AREA)
        halo = cv2.resize(small, (mapped.shape[1], mapped.shape[0]))
        mapped = cv2.addWeighted(mapped, 0.8, halo, 0.2, 0.0)
    return np.asarray(mapped, dtype=np.uint8)
