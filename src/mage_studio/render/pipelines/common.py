"""Parts shared by the vid2vid and Deforum pipelines: size, callbacks, output files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import structlog

from mage_studio.render.backends.base import Backend
from mage_studio.render.errors import RenderCancelled
from mage_studio.render.imaging import RGBImage, diffusion_size, round_to_multiple
from mage_studio.render.media.audio import AudioSource
from mage_studio.render.media.encode import VideoWriter, finish_video
from mage_studio.render.media.previews import (
    save_animation,
    save_png,
    save_strip,
    save_thumbnail,
)
from mage_studio.render.media.probe import MediaInfo
from mage_studio.render.media.timeline import even_indices
from mage_studio.render.pipelines.spec import (
    CancelCheck,
    Progress,
    ProgressCallback,
    RenderOutputs,
    RenderSpec,
)

log = structlog.get_logger(__name__)

ANIMATION_MAX_FRAMES = 48
"""Frames in the animated preview of a long render (sampled evenly)."""
STRIP_MAX_FRAMES = 8
DEFAULT_SIZE = (512, 512)


def render_size(spec: RenderSpec, source: MediaInfo | None) -> tuple[int, int]:
    """Return the (width, height) to render: the spec's, else the source's scaled down.

    Both sides are multiples of 8, as latent diffusion models require (which
    also satisfies H.264's even sizes).
    """
    if spec.width and spec.height:
        return round_to_multiple(spec.width, 8), round_to_multiple(spec.height, 8)
    if source is not None:
        return diffusion_size(source.width, source.height, max_side=spec.max_side)
    return DEFAULT_SIZE


@dataclass(slots=True)
class RenderLoop:
    """Callbacks and counters of one running render."""

    spec: RenderSpec
    backend: Backend
    frames_total: int
    on_progress: ProgressCallback | None = None
    should_cancel: CancelCheck | None = None
    frames_done: int = 0
    backend_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def check_cancel(self) -> None:
        """Raise RenderCancelled if the job was cancelled (called before each frame)."""
        if self.should_cancel is not None and self.should_cancel():
            log.info(
                "render.cancelled", job_id=self.spec.job_id, frames=self.frames_done
            )
            raise RenderCancelled(self.frames_done)

    def img2img(
        self,
        image: RGBImage,
        *,
        prompt: str,
        negative_prompt: str,
        seed: int,
        cfg: float,
        denoising: float,
        steps: int,
    ) -> RGBImage:
        """Call the backend with the job's model, timing the call."""
        started = time.perf_counter()
        result = self.backend.img2img(
            image, prompt, negative_prompt, seed, cfg, denoising, steps, self.spec.model
        )
        self.backend_seconds += time.perf_counter() - started
        return result

    def frame_done(
        self, image: RGBImage, applied: dict[str, Any] | None = None
    ) -> None:
        self.frames_done += 1
        if self.on_progress is not None:
            self.on_progress(
                Progress(self.frames_done, self.frames_total, image, applied)
            )

    def timings(self) -> dict[str, float]:
        total = time.perf_counter() - self.started
        return {
            "total_seconds": round(total, 3),
            "backend_seconds": round(self.backend_seconds, 3),
            "frames_per_second": round(self.frames_done / total, 3)
            if total > 0
            else 0.0,
        }


class FrameSink:
    """Collects output frames: the MP4, frames for the previews, first and last frame.

    `total` is the number of frames that `add` will receive, so preview frames
    can be sampled evenly while streaming. Call `finish` once, or `abort` on
    failure to close and remove the partial video.
    """

    def __init__(
        self,
        workdir: Path,
        width: int,
        height: int,
        rate: Fraction,
        total: int,
        *,
        write_video: bool,
    ) -> None:
        self.workdir = workdir
        self.rate = rate
        self.total = total
        self._video_path = workdir / "video.frames.mp4"
        self._writer = (
            VideoWriter(self._video_path, width, height, rate) if write_video else None
        )
        self._animation_picks = set(even_indices(total, ANIMATION_MAX_FRAMES))
        self._strip_picks = set(even_indices(total, STRIP_MAX_FRAMES))
        self._animation: list[RGBImage] = []
        self._strip: list[RGBImage] = []
        self._first: RGBImage | None = None
        self._last: RGBImage | None = None
        self._count = 0
        self.width = width
        self.height = height

    @property
    def video_frames(self) -> int:
        return 0 if self._writer is None else self._writer.frames_written

    def write_base(self, image: RGBImage) -> None:
        """Write a frame to the video only (an extension's base video)."""
        if self._writer is not None:
            self._writer.write(image)

    def add(self, image: RGBImage) -> None:
        """Write a rendered frame and keep it for previews when it is sampled."""
        if self._writer is not None:
            self._writer.write(image)
        if self._first is None:
            self._first = image
        if self._count in self._animation_picks:
            self._animation.append(image)
        if self._count in self._strip_picks:
            self._strip.append(image)
        self._last = image
        self._count += 1

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._video_path.unlink(missing_ok=True)

    def finish(
        self,
        loop: RenderLoop,
        *,
        audio: AudioSource | None,
        animation_rate: Fraction | None = None,
    ) -> RenderOutputs:
        """Close the video (adding audio) and write the preview files."""
        if self._first is None or self._last is None:
            raise ValueError("no frames were rendered")
        video, has_audio, video_frames = self._finish_video(audio)
        rate = animation_rate or self._animation_rate()
        animation = None
        if len(self._animation) > 1:
            animation = save_animation(
                self._animation, self.workdir / "preview.webp", rate
            )
        return RenderOutputs(
            thumbnail=save_thumbnail(self._first, self.workdir / "thumbnail.jpg"),
            last_frame=save_png(self._last, self.workdir / "last_frame.png"),
            preview_img=save_strip(self._strip, self.workdir / "preview_strip.webp"),
            preview_animation=animation,
            video=video,
            frames_rendered=loop.frames_done,
            width=self.width,
            height=self.height,
            fps=self.rate,
            frame_count=video_frames or self._count,
            has_audio=has_audio,
            backend=loop.backend.label,
            timings=loop.timings(),
        )

    def _finish_video(self, audio: AudioSource | None) -> tuple[Path | None, bool, int]:
        if self._writer is None:
            return None, False, 0
        self._writer.close()
        frames = self._writer.frames_written
        output = self.workdir / "video.mp4"
        has_audio = finish_video(self._video_path, output, audio)
        return output, has_audio, frames

    def _animation_rate(self) -> Fraction:
        """Return a rate that plays the sampled frames in about the video's length."""
        if not self._animation or self.total <= len(self._animation):
            return self.rate
        return max(Fraction(1), self.rate * len(self._animation) / self.total)
