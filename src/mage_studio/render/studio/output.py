"""Progress, cancel and output files shared by every studio operation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import structlog

from mage_studio.render.errors import InvalidMedia, MediaError, RenderCancelled
from mage_studio.render.imaging import RGBImage
from mage_studio.render.media.audio import AudioSource
from mage_studio.render.media.decode import iter_frames
from mage_studio.render.media.encode import VideoWriter, finish_video
from mage_studio.render.media.previews import (
    save_animation,
    save_png,
    save_strip,
    save_thumbnail,
)
from mage_studio.render.media.timeline import even_indices
from mage_studio.render.pipelines.spec import (
    CancelCheck,
    Progress,
    ProgressCallback,
    RenderOutputs,
)
from mage_studio.render.studio.options import WatermarkPlacement
from mage_studio.render.studio.watermark import RGBAImage, WatermarkOverlay

log = structlog.get_logger(__name__)

BACKEND_LABEL = "studio (CPU)"
ANIMATION_MAX_FRAMES = 48
STRIP_MAX_FRAMES = 8


@dataclass(slots=True)
class FrameTracker:
    """Progress reports and cancel checks of one studio job.

    `frames_total` is the output frame count. Operations that do not produce
    frames one by one (audio edits) report their progress in frame equivalents.
    """

    job_id: str
    frames_total: int
    on_progress: ProgressCallback | None = None
    should_cancel: CancelCheck | None = None
    frames_done: int = 0
    started: float = field(default_factory=time.perf_counter)

    def check_cancel(self) -> None:
        """Raise RenderCancelled when the job was cancelled."""
        if self.should_cancel is not None and self.should_cancel():
            log.info("studio.cancelled", job_id=self.job_id, frames=self.frames_done)
            raise RenderCancelled(self.frames_done)

    def frame_done(self, image: RGBImage) -> None:
        self.advance(self.frames_done + 1, image)

    def advance(self, frames_done: int, image: RGBImage) -> None:
        """Record progress up to `frames_done` frames; `image` is the live preview."""
        self.frames_done = frames_done
        if self.on_progress is not None:
            total = max(self.frames_total, frames_done)
            self.on_progress(Progress(frames_done, total, image))

    def timings(self) -> dict[str, float]:
        total = time.perf_counter() - self.started
        return {
            "total_seconds": round(total, 3),
            "frames_per_second": round(self.frames_done / total, 3) if total else 0.0,
        }


class PreviewFrames:
    """Keeps the frames the preview files need while frames stream past.

    `total` is the number of frames `add` receives, so samples for the animation
    and the strip can be spread evenly.
    """

    def __init__(self, total: int, rate: Fraction) -> None:
        self.total = max(1, total)
        self.rate = rate
        self._animation_picks = set(even_indices(self.total, ANIMATION_MAX_FRAMES))
        self._strip_picks = set(even_indices(self.total, STRIP_MAX_FRAMES))
        self._animation: list[RGBImage] = []
        self._strip: list[RGBImage] = []
        self.first: RGBImage | None = None
        self.last: RGBImage | None = None
        self.count = 0

    def add(self, image: RGBImage) -> None:
        if self.first is None:
            self.first = image
        if self.count in self._animation_picks:
            self._animation.append(image)
        if self.count in self._strip_picks:
            self._strip.append(image)
        self.last = image
        self.count += 1

    def save(self, folder: Path) -> tuple[Path, Path, Path, Path | None]:
        """Write thumbnail, last frame, strip and animation (None for one frame)."""
        if self.first is None or self.last is None:
            raise InvalidMedia("The video contains no decodable frames.")
        animation = None
        if len(self._animation) > 1:
            animation = save_animation(
                self._animation, folder / "preview.webp", self._animation_rate()
            )
        return (
            save_thumbnail(self.first, folder / "thumbnail.jpg"),
            save_png(self.last, folder / "last_frame.png"),
            save_strip(self._strip or [self.first], folder / "preview_strip.webp"),
            animation,
        )

    def _animation_rate(self) -> Fraction:
        """Return a rate that plays the sampled frames in about the video's length."""
        if self.count <= len(self._animation):
            return self.rate
        return max(Fraction(1), self.rate * len(self._animation) / self.count)


def collect_previews(video: Path, rate: Fraction, total: int) -> PreviewFrames:
    """Decode a finished video once and keep the frames its previews need."""
    previews = PreviewFrames(total, rate)
    for _, image in iter_frames(video, rate=rate):
        previews.add(image)
    return previews


def outputs_for(
    video: Path,
    previews: PreviewFrames,
    tracker: FrameTracker,
    *,
    has_audio: bool,
    folder: Path,
) -> RenderOutputs:
    """Build the result of a studio job from its video and preview frames."""
    thumbnail, last_frame, strip, animation = previews.save(folder)
    assert previews.first is not None  # save() raises when no frame was kept
    height, width = previews.first.shape[:2]
    return RenderOutputs(
        thumbnail=thumbnail,
        last_frame=last_frame,
        preview_img=strip,
        preview_animation=animation,
        video=video,
        frames_rendered=tracker.frames_done,
        width=width,
        height=height,
        fps=previews.rate,
        frame_count=previews.count,
        has_audio=has_audio,
        backend=BACKEND_LABEL,
        timings=tracker.timings(),
    )


class StudioWriter:
    """Encodes composed frames to an MP4 and writes the preview files.

    Each `add` checks for a cancel first, draws the watermark when there is one,
    encodes the frame and reports progress. Use it as a context manager: on an
    exception the partial video is removed.
    """

    def __init__(
        self,
        folder: Path,
        width: int,
        height: int,
        rate: Fraction,
        tracker: FrameTracker,
        watermark: WatermarkOverlay | None = None,
    ) -> None:
        self.folder = folder
        self.width = width
        self.height = height
        self.rate = rate
        self.tracker = tracker
        self.watermark = watermark
        self.previews = PreviewFrames(tracker.frames_total, rate)
        self._video_path = folder / "video.frames.mp4"
        self._writer = VideoWriter(self._video_path, width, height, rate)

    def add(self, image: RGBImage) -> None:
        self.tracker.check_cancel()
        if self.watermark is not None:
            image = self.watermark.apply(image)
        self._writer.write(image)
        self.previews.add(image)
        self.tracker.frame_done(image)

    def abort(self) -> None:
        self._writer.close()
        self._video_path.unlink(missing_ok=True)

    def finish(self, audio: AudioSource | None) -> RenderOutputs:
        """Close the video, add `audio` (cut to the video) and write the previews."""
        self._writer.close()
        if self._writer.frames_written == 0:
            self._video_path.unlink(missing_ok=True)
            raise InvalidMedia("The inputs contain no decodable frames.")
        output = self.folder / "video.mp4"
        has_audio = finish_video(self._video_path, output, audio)
        return outputs_for(
            output,
            self.previews,
            self.tracker,
            has_audio=has_audio,
            folder=self.folder,
        )

    def __enter__(self) -> StudioWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.abort()


@dataclass(frozen=True, slots=True)
class StudioContext:
    """Output folder, progress and cancel callbacks, and watermark of one studio job."""

    job_id: str
    folder: Path
    on_progress: ProgressCallback | None = None
    should_cancel: CancelCheck | None = None
    watermark: RGBAImage | None = None
    """The user's watermark, when the job draws it."""

    def tracker(self, frames_total: int) -> FrameTracker:
        return FrameTracker(
            self.job_id, frames_total, self.on_progress, self.should_cancel
        )

    def writer(
        self,
        width: int,
        height: int,
        rate: Fraction,
        frames_total: int,
        watermark: WatermarkPlacement | None,
    ) -> StudioWriter:
        """Open the MP4 writer of an operation that composes frames."""
        overlay = None
        if watermark is not None:
            if self.watermark is None:
                raise MediaError("The job asks for a watermark, but none was supplied.")
            overlay = WatermarkOverlay(self.watermark, watermark)
        return StudioWriter(
            self.folder, width, height, rate, self.tracker(frames_total), overlay
        )


def aligned_frames(
    path: Path,
    rate: Fraction,
    total: int,
    size: tuple[int, int] | None = None,
) -> Iterator[RGBImage]:
    """Yield exactly `total` frames of a video, GIF or still at `rate`.

    A shorter input repeats its last frame, and a still repeats throughout.
    `size` scales each frame to cover (width, height), cropping the centre.
    """
    last: RGBImage | None = None
    count = 0
    for _, image in iter_frames(path, rate=rate, size=size, limit=total):
        last = image
        count += 1
        yield image
    if last is None:
        raise InvalidMedia("The input contains no decodable frames.")
    for _ in range(count, total):
        yield last
