"""Renditions of a finished video for galleries and social posts.

From one representative frame (the sharpest of a few spread over the video):
a square thumbnail, a 16:9 backdrop and a 9:16 poster, each cropped around the
frame's detail. And a short animated WebP loop around that frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import structlog
from PIL import Image

from mage_studio.render.errors import InvalidMedia
from mage_studio.render.imaging import RGBImage, resize
from mage_studio.render.media.decode import iter_frames
from mage_studio.render.media.previews import save_animation
from mage_studio.render.media.timeline import even_indices
from mage_studio.render.studio.audio import video_timing
from mage_studio.render.studio.canvas import crop_box

log = structlog.get_logger(__name__)

RENDITION_NAMES = ("thumbnail_square", "backdrop", "poster", "animated_preview")
"""Names of the renditions, as result file fields (`rendition_<name>`) and `urls`
keys."""

STILLS: dict[str, tuple[Fraction, int]] = {
    "thumbnail_square": (Fraction(1), 512),
    "backdrop": (Fraction(16, 9), 1280),
    "poster": (Fraction(9, 16), 1280),
}
"""Aspect (width / height) and maximum longer side of each still rendition."""
JPEG_QUALITY = 85
CANDIDATES = 7
"""Frames compared when choosing the representative frame."""
ANIMATION_RATE = Fraction(12)
ANIMATION_SECONDS = Fraction(3)
ANIMATION_MAX_SIDE = 384
FOCUS_PULL = 0.5
"""How far the crop centre moves from the middle toward the frame's detail (0-1)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    index: int
    """Frame index at the video's own rate."""
    image: RGBImage
    sharpness: float


def sharpness(image: RGBImage) -> float:
    """Return the variance of the Laplacian: high for detailed, in-focus frames and
    near 0 for flat ones (fades, black frames)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def detail_focus(image: RGBImage) -> tuple[float, float]:
    """Return a crop centre (x, y in 0-1) pulled from the middle toward the detail.

    The detail centre is the centroid of the gradient magnitude, so a subject off
    the middle stays in a square or portrait crop of a landscape frame.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = np.hypot(
        cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    )
    total = float(magnitude.sum())
    if total <= 0:
        return 0.5, 0.5
    height, width = gray.shape
    x = float((magnitude.sum(axis=0) * np.arange(width)).sum()) / total / width
    y = float((magnitude.sum(axis=1) * np.arange(height)).sum()) / total / height
    return 0.5 + (x - 0.5) * FOCUS_PULL, 0.5 + (y - 0.5) * FOCUS_PULL


def still_rendition(image: RGBImage, aspect: Fraction, max_side: int) -> RGBImage:
    """Crop `image` to `aspect` around its detail and shrink it to `max_side`."""
    height, width = image.shape[:2]
    box = crop_box(width, height, aspect, detail_focus(image))
    scale = min(1.0, max_side / max(box.width, box.height))
    return resize(
        box.cut(image),
        max(1, round(box.width * scale)),
        max(1, round(box.height * scale)),
    )


def choose_frame(video: Path, rate: Fraction, total: int) -> Candidate:
    """Return the sharpest of a few frames spread over the video.

    The first and last tenth are skipped when the video is long enough, because
    fades and title frames often sit there.
    """
    margin = total // 10
    picks = [margin + index for index in even_indices(total - 2 * margin, CANDIDATES)]
    best: Candidate | None = None
    for index, image in iter_frames(video, rate=rate, indices=picks):
        candidate = Candidate(index, image, sharpness(image))
        if best is None or candidate.sharpness > best.sharpness:
            best = candidate
    if best is None:
        raise InvalidMedia("The video contains no decodable frames.")
    return best


def animation_frames(video: Path, centre: Fraction) -> list[RGBImage]:
    """Return up to ANIMATION_SECONDS of frames at ANIMATION_RATE around `centre`."""
    start = max(Fraction(0), centre - ANIMATION_SECONDS / 2)
    first = int(start * ANIMATION_RATE)
    indices = range(first, first + int(ANIMATION_SECONDS * ANIMATION_RATE))
    frames = [
        image
        for _, image in iter_frames(video, rate=ANIMATION_RATE, indices=list(indices))
    ]
    if len(frames) < len(indices) and first > 0:
        # Near the end of a short video: take the last seconds instead.
        frames = [image for _, image in iter_frames(video, rate=ANIMATION_RATE)]
        frames = frames[-len(indices) :]
    return frames


def make_renditions(video: Path, folder: Path) -> dict[str, Path]:
    """Write the renditions of a finished video into `folder`; return name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    timing = video_timing(video)
    chosen = choose_frame(video, timing.rate, timing.frame_count)
    paths: dict[str, Path] = {}
    for name, (aspect, max_side) in STILLS.items():
        path = folder / f"{name}.jpg"
        image = still_rendition(chosen.image, aspect, max_side)
        Image.fromarray(image).save(path, format="JPEG", quality=JPEG_QUALITY)
        paths[name] = path
    centre = Fraction(chosen.index) / timing.rate
    frames = animation_frames(video, centre)
    paths["animated_preview"] = save_animation(
        frames or [chosen.image],
        folder / "animated_preview.webp",
        ANIMATION_RATE,
        max_side=ANIMATION_MAX_SIDE,
    )
    return paths


def try_renditions(video: Path, folder: Path) -> dict[str, Path]:
    """Write the renditions of `video`, or return {} (logged) when that fails.

    Renditions are extras: a video they cannot be made from is still a result.
    """
    try:
        return make_renditions(video, folder)
    except Exception as error:
        log.warning("studio.renditions_failed", video=video.name, error=repr(error))
        return {}
