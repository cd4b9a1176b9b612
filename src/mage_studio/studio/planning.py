"""Expected output of a studio job (size, rate, frames) and its price in credits.

The numbers come from the source jobs' columns and the same size rules the
worker applies, so the queue can estimate the job and credits can be reserved
before any file is read. The worker's output may differ by a frame or so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from mage_studio.config import Settings
from mage_studio.jobs.models import VideoJob
from mage_studio.render.media.timeline import parse_rate
from mage_studio.render.studio.canvas import scaled_size
from mage_studio.render.studio.exports import plan_export
from mage_studio.render.studio.options import (
    AudioOptions,
    CompositionOptions,
    ConcatOptions,
    ExportOptions,
    StudioModel,
)

DEFAULT_RATE = Fraction(25)
DEFAULT_SIZE = (512, 512)


@dataclass(frozen=True, slots=True)
class OutputPlan:
    width: int
    height: int
    fps: Fraction
    frame_count: int

    @property
    def seconds(self) -> Fraction:
        return self.frame_count / self.fps


def rate_of(job: VideoJob) -> Fraction:
    return job.fps or DEFAULT_RATE


def seconds_of(job: VideoJob) -> Fraction:
    """Return the length of a finished job's video in seconds (estimated)."""
    if job.frame_count:
        return job.frame_count / rate_of(job)
    return Fraction(job.length or 0).limit_denominator(1000)


def frames_at(job: VideoJob, rate: Fraction) -> int:
    return max(1, round(seconds_of(job) * rate))


def size_of(job: VideoJob) -> tuple[int, int]:
    if job.width and job.height:
        return job.width, job.height
    return DEFAULT_SIZE


def plan_output(options: StudioModel, sources: list[VideoJob]) -> OutputPlan:
    """Return the expected output of a studio job over its source jobs."""
    first = sources[0]
    rate = rate_of(first)
    width, height = size_of(first)
    if isinstance(options, ExportOptions):
        plan = plan_export(width, height, options)
        return OutputPlan(plan.width, plan.height, rate, frames_at(first, rate))
    if isinstance(options, CompositionOptions):
        panel_width, panel_height = scaled_size(width, height, options.max_height)
        if options.layout == "side-by-side":
            gap = options.side_by_side.gap + options.side_by_side.gap % 2
            panel_width = 2 * panel_width + gap
        return OutputPlan(panel_width, panel_height, rate, frames_at(first, rate))
    if isinstance(options, ConcatOptions):
        if options.fps:
            rate = parse_rate(options.fps)
        out_width, out_height = scaled_size(width, height, options.max_height)
        frames = sum(frames_at(source, rate) for source in sources)
        return OutputPlan(out_width, out_height, rate, frames)
    if isinstance(options, AudioOptions):
        return OutputPlan(width, height, rate, frames_at(first, rate))
    raise TypeError(f"unknown studio options {type(options).__name__}")


def studio_price(plan: OutputPlan, settings: Settings) -> int:
    """Return the credits of a studio job: its output seconds, rounded up, times
    `studio_credits_per_second`."""
    return math.ceil(plan.seconds) * settings.studio_credits_per_second
