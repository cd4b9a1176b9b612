"""Deforum 2D animation: warp the previous frame, add noise, img2img, repeat.

Frame 0 is img2img of the init image (the source's first frame, a still, or
seeded noise without a source) with the job's denoising. Every later frame warps
the previous output by that frame's motion. With cadence N only every N-th frame
is diffused, after colour matching (colour coherence), contrast and noise. The
frames between are the warp alone. Live steering is read before each frame.

An extension starts from the base video's exact last frame, keeps its size and
frame rate, and continues the schedules' frame counter after the base frames. A
full render writes the base video followed by the new frames. A preview holds
only the new frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from mage_studio.render.animation import (
    DeforumPlan,
    FrameValues,
    JobDefaults,
    SeedSequencer,
)
from mage_studio.render.backends.base import Backend
from mage_studio.render.deforum import DeforumSettings, parse_settings
from mage_studio.render.imaging import (
    LabStats,
    RGBImage,
    lab_stats,
    match_colors,
    resize_cover,
    round_to_multiple,
)
from mage_studio.render.media.audio import AudioSource
from mage_studio.render.media.decode import (
    iter_frames,
    read_first_frame,
    read_last_frame,
)
from mage_studio.render.media.previews import load_png
from mage_studio.render.media.probe import MediaInfo, probe
from mage_studio.render.motion import add_noise, adjust_contrast, warp
from mage_studio.render.pipelines.common import FrameSink, RenderLoop, render_size
from mage_studio.render.pipelines.spec import (
    CancelCheck,
    ProgressCallback,
    RenderOutputs,
    RenderSpec,
    SteeringSource,
)
from mage_studio.render.steering import Steering, SteeringEaser

log = structlog.get_logger(__name__)

DEFAULT_FPS = Fraction(24)
MAX_FRAMES = 100_000


def render_deforum(
    spec: RenderSpec,
    workdir: Path,
    backend: Backend,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    get_steering: SteeringSource | None = None,
) -> RenderOutputs:
    """Render a Deforum preview, full render or extension (see the module docs)."""
    parsed = parse_settings(spec.deforum or {})
    settings = parsed.settings
    source = probe(spec.source) if spec.source is not None else None
    base = probe(spec.extend_from.video) if spec.extend_from is not None else None

    rate = _rate(spec, settings, base)
    size = _size(spec, settings, source, base)
    frames = _frame_count(spec, settings, rate)
    base_frames = _base_frame_count(spec, base)
    plan = DeforumPlan(settings, base_frames + frames, _defaults(spec, settings))

    write_video = spec.render == "full" or frames > 1
    sink = FrameSink(workdir, size[0], size[1], rate, frames, write_video=write_video)
    loop = RenderLoop(spec, backend, frames, on_progress, should_cancel)
    log.info(
        "render.deforum_started",
        job_id=spec.job_id,
        frames=frames,
        base_frames=base_frames,
        width=size[0],
        height=size[1],
    )

    run = _DeforumRun(loop, sink, plan, settings, get_steering, base_frames)
    try:
        if spec.extend_from is not None and spec.render == "full":
            _write_base(spec.extend_from.video, sink, rate, size)
        run.render(_init_image(spec, size), frames)
    except BaseException:
        sink.abort()
        raise

    outputs = sink.finish(loop, audio=_audio(spec, source, base))
    outputs.ignored_settings = parsed.ignored
    outputs.applied_steering = run.applied
    return outputs


@dataclass(slots=True)
class _InitImage:
    image: RGBImage
    from_noise: bool = False
    continues: bool = False
    """Whether frame 0 continues a base video (an extension) instead of restyling."""


@dataclass(slots=True)
class _DeforumRun:
    loop: RenderLoop
    sink: FrameSink
    plan: DeforumPlan
    settings: DeforumSettings
    get_steering: SteeringSource | None
    base_frames: int
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    _seeds: SeedSequencer | None = None
    _live_seed: int | None = None
    _reference: LabStats | None = None
    _since_diffusion: int = 0
    _easer: SteeringEaser = field(default_factory=SteeringEaser)

    def render(self, init: _InitImage, frames: int) -> None:
        spec = self.loop.spec
        self._seeds = SeedSequencer(
            spec.seed,
            self.settings.seed_behavior,
            iter_n=self.settings.seed_iter_n,
            schedule=self.plan.seed_schedule(),
        )
        if init.continues and self._matches_colors:
            self._reference = lab_stats(init.image)
        previous = init.image
        for number in range(frames):
            self.loop.check_cancel()
            index = self.base_frames + number
            values = self.plan.frame(index, self._steering())
            seed: int | None
            if number == 0 and not init.continues:
                image, seed = self._first_frame(init, values)
                diffused = True
            else:
                image, seed, diffused = self._next_frame(previous, values)
            if self._matches_colors and self._reference is None:
                self._reference = lab_stats(image)
            record = {**values.record(), "t": index, "diffused": diffused}
            if seed is not None:
                record["seed"] = seed
            self.applied[str(number)] = record
            self.sink.add(image)
            self.loop.frame_done(image, record)
            previous = image

    @property
    def _matches_colors(self) -> bool:
        return self.settings.color_coherence is not None or self.loop.spec.color_match

    def _steering(self) -> Steering:
        """Read the live values, ease them, and apply a live seed change."""
        raw = self.get_steering() if self.get_steering else None
        steering = self._easer.apply(Steering.from_mapping(raw))
        seeds = self._seeds
        assert seeds is not None
        if steering.seed is not None and steering.seed != self._live_seed:
            seed = steering.seed if steering.seed >= 0 else seeds.random_seed()
            seeds.reset(seed, steering.seed_behavior)
            self._live_seed = steering.seed
        elif steering.seed_behavior is not None:
            seeds.behavior = steering.seed_behavior
        return steering

    def _first_frame(
        self, init: _InitImage, values: FrameValues
    ) -> tuple[RGBImage, int]:
        spec = self.loop.spec
        seed = self._next_seed(values.index)
        image = self.loop.img2img(
            init.image,
            prompt=values.prompt,
            negative_prompt=values.negative_prompt,
            seed=seed,
            cfg=values.cfg,
            denoising=1.0 if init.from_noise else spec.denoising,
            steps=values.steps,
        )
        return image, seed

    def _next_frame(
        self, previous: RGBImage, values: FrameValues
    ) -> tuple[RGBImage, int | None, bool]:
        warped = warp(previous, values.motion, self.settings.border)
        self._since_diffusion += 1
        if self._since_diffusion < max(1, values.cadence):
            return warped, None, False
        self._since_diffusion = 0
        seed = self._next_seed(values.index)
        prepared = warped
        if self._reference is not None:
            prepared = match_colors(prepared, self._reference)
        prepared = adjust_contrast(prepared, values.contrast)
        prepared = add_noise(prepared, values.noise, seed, self.settings.noise)
        if values.strength >= 1.0:
            return prepared, seed, True
        image = self.loop.img2img(
            prepared,
            prompt=values.prompt,
            negative_prompt=values.negative_prompt,
            seed=seed,
            cfg=values.cfg,
            denoising=values.denoising,
            steps=values.steps,
        )
        return image, seed, True

    def _next_seed(self, index: int) -> int:
        seeds = self._seeds
        assert seeds is not None
        seed = seeds.current(index)
        seeds.advance()
        return seed


def _defaults(spec: RenderSpec, settings: DeforumSettings) -> JobDefaults:
    return JobDefaults(
        prompt=spec.prompt,
        negative_prompt=spec.negative_prompt,
        denoising=spec.denoising,
        cfg_scale=spec.cfg_scale,
        steps=spec.steps or settings.steps or 20,
        seed=spec.seed,
    )


def _rate(
    spec: RenderSpec, settings: DeforumSettings, base: MediaInfo | None
) -> Fraction:
    """Return the base video's rate when extending, else the spec's or settings'."""
    if base is not None and base.fps is not None:
        if spec.fps is not None and spec.fps != base.fps:
            log.warning(
                "render.extension_rate_kept",
                job_id=spec.job_id,
                requested=str(spec.fps),
                base=str(base.fps),
            )
        return base.fps
    return spec.fps or settings.fps or DEFAULT_FPS


def _size(
    spec: RenderSpec,
    settings: DeforumSettings,
    source: MediaInfo | None,
    base: MediaInfo | None,
) -> tuple[int, int]:
    """Return the base video size when extending, else the spec, settings or source."""
    if base is not None:
        return base.width, base.height
    if not (spec.width and spec.height) and settings.width and settings.height:
        return round_to_multiple(settings.width, 8), round_to_multiple(
            settings.height, 8
        )
    return render_size(spec, source)


def _frame_count(spec: RenderSpec, settings: DeforumSettings, rate: Fraction) -> int:
    if spec.frame_count:
        count = spec.frame_count
    elif spec.render == "preview":
        count = 1
    elif spec.length:
        count = round(Fraction(spec.length) * rate)
    else:
        count = settings.max_frames or 1
    return max(1, min(count, MAX_FRAMES))


def _base_frame_count(spec: RenderSpec, base: MediaInfo | None) -> int:
    if spec.extend_from is None or base is None:
        return 0
    return spec.extend_from.frame_count or base.frame_count


def _write_base(
    video: Path, sink: FrameSink, rate: Fraction, size: tuple[int, int]
) -> None:
    for _, image in iter_frames(video, rate=rate, size=size):
        sink.write_base(image)


def _init_image(spec: RenderSpec, size: tuple[int, int]) -> _InitImage:
    width, height = size
    if spec.extend_from is not None:
        extend = spec.extend_from
        if extend.last_frame is not None:
            image = resize_cover(load_png(extend.last_frame), width, height)
        else:
            image = read_last_frame(extend.video, size=size)
        return _InitImage(image, continues=True)
    if spec.source is not None:
        return _InitImage(read_first_frame(spec.source, size=size))
    rng = np.random.default_rng(spec.seed & 0xFFFFFFFF)
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return _InitImage(noise, from_noise=True)


def _audio(
    spec: RenderSpec, source: MediaInfo | None, base: MediaInfo | None
) -> AudioSource | None:
    """Return the soundtrack, else the base video's or the source's own audio.

    An extension preview holds only the new frames, which no audio lines up
    with, so it stays silent.
    """
    if spec.extend_from is not None and spec.render == "preview":
        return None
    if spec.soundtrack is not None:
        return AudioSource(spec.soundtrack)
    if spec.extend_from is not None and base is not None and base.has_audio:
        return AudioSource(spec.extend_from.video)
    if spec.source is not None and source is not None and source.has_audio:
        return AudioSource(spec.source, start=source.start_time)
    return None
