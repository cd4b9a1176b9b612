"""Render input (RenderSpec), progress reports (Progress) and results (RenderOutputs).

The runner downloads the claimed job's media, builds a RenderSpec with local
paths, and calls `render_job`. This module does not depend on HTTP or the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from mage_studio.render.imaging import RGBImage
from mage_studio.render.media.timeline import format_rate

Generator = Literal["vid2vid", "deforum"]
RenderKind = Literal["preview", "full"]


@dataclass(frozen=True, slots=True)
class ExtendFrom:
    """The finished Deforum job that an extension continues."""

    video: Path
    last_frame: Path | None = None
    """Lossless PNG of the base video's last frame, decoded from `video` if None."""
    frame_count: int | None = None
    """Frames in the base video, counted from `video` when None."""


@dataclass(frozen=True, slots=True)
class RenderSpec:
    """One render of one job, with local file paths.

    Sizes are rounded to multiples of 8. `fps` defaults to the source's rate
    (vid2vid) or the settings' fps, else 24 (Deforum). For a preview render,
    `frame_count` is the number of preview frames. For a full Deforum render it
    is the output frame count, and round(length x fps) when it is None. A full
    vid2vid render ignores it and processes every frame of the source at `fps`,
    cut to `length` seconds when given.
    """

    job_id: str
    generator: Generator
    render: RenderKind
    prompt: str
    negative_prompt: str = ""
    seed: int = 1
    cfg_scale: float = 7.0
    denoising: float = 0.5
    steps: int = 20
    model: str | None = None
    """Model name passed to the backend (the catalog's backend_name)."""
    width: int | None = None
    height: int | None = None
    max_side: int = 512
    """Maximum side length when the size comes from the source, not width/height."""
    fps: Fraction | None = None
    frame_count: int | None = None
    length: float | None = None
    color_match: bool = False
    source: Path | None = None
    soundtrack: Path | None = None
    deforum: Mapping[str, Any] | None = None
    """Merged Deforum settings (preset, then user overrides)."""
    extend_from: ExtendFrom | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Progress sent after every rendered frame (the caller throttles it)."""

    frames_done: int
    frames_total: int
    frame: RGBImage
    """The newest output frame, for live previews."""
    applied: dict[str, Any] | None = None
    """Values used for this frame (Deforum), keyed as in the protocol's `applied`."""

    @property
    def percent(self) -> float:
        if self.frames_total <= 0:
            return 0.0
        return round(100.0 * self.frames_done / self.frames_total, 2)


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]
SteeringSource = Callable[[], Mapping[str, Any] | None]


@dataclass(slots=True)
class RenderOutputs:
    """Files and facts of a finished render, ready for the result upload."""

    thumbnail: Path
    last_frame: Path
    preview_img: Path
    """WebP strip of sampled frames, or the single frame of a one-frame render."""
    preview_animation: Path | None
    video: Path | None
    frames_rendered: int
    width: int
    height: int
    fps: Fraction
    frame_count: int
    """Frames in `video` (extension base frames included)."""
    has_audio: bool = False
    backend: str = ""
    ignored_settings: list[str] = field(default_factory=list)
    applied_steering: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return float(self.frame_count / self.fps)

    def metadata(self) -> dict[str, Any]:
        """Return the `metadata` JSON of the worker protocol's result upload."""
        return {
            "ignored_settings": self.ignored_settings,
            "applied_steering": self.applied_steering,
            "timings": self.timings,
            "backend": self.backend,
            "width": self.width,
            "height": self.height,
            "fps": format_rate(self.fps),
            "frame_count": self.frame_count,
            "has_audio": self.has_audio,
        }
