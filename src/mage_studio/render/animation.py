"""Per-frame Deforum values: schedules evaluated once, steering applied per frame.

`DeforumPlan.frame(index, steering)` returns everything the render loop needs for
one frame (motion, strength, cfg, steps, noise, prompts) and `FrameValues.record()`
is what the worker reports as applied, so a render can be reproduced.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from mage_studio.render.deforum import (
    DeforumSettings,
    PromptSchedule,
    build_prompt_schedule,
)
from mage_studio.render.motion import Motion, Perspective, zoom_from_translation_z
from mage_studio.render.steering import Steering

MIN_ZOOM = 0.05
"""Smallest zoom factor per frame, so a strong live zoom-out never flips the picture."""
LIVE_ZOOM_PER_UNIT = 0.05
"""Zoom factor change per frame for a live `translation_z` of 1.

The console's zoom control sends -1 to 1: 1 adds 0.05 to the frame's zoom factor
(a fast zoom-in of 5 % per frame), 0.1 adds 0.005 (a gentle one) and -1 zooms out
by 5 % per frame.
"""
LIVE_PAN_PIXELS_PER_UNIT = 1.0
"""Pixels per frame, at the render size, moved by a live `translation_x`/`_y` of 1.

This is the unit of Deforum's translation schedules, so a live value adds to the
scheduled one directly: 10 pans 10 pixels per frame.
"""
LIVE_ROTATION_DEGREES_PER_UNIT = 1.0
"""Degrees per frame turned by a live `rotation_x`/`_y`/`_z` of 1.

This is the unit of Deforum's angle and 3D rotation schedules: `rotation_z` adds
to the 2D angle, `rotation_x` and `rotation_y` tilt and turn the picture plane.
"""
SEED_LIMIT = 2**32
"""Seeds wrap around inside 0 .. 2**32 - 1, the range Stable Diffusion WebUI accepts."""


@dataclass(frozen=True, slots=True)
class JobDefaults:
    """Job parameters that apply where the settings have no schedule."""

    prompt: str
    negative_prompt: str
    denoising: float
    cfg_scale: float
    steps: int
    seed: int


@dataclass(frozen=True, slots=True)
class FrameValues:
    """The values used for one frame (before the seed, which the render loop owns)."""

    index: int
    motion: Motion
    strength: float
    """Share of the previous frame kept by img2img (denoising = 1 - strength)."""
    cfg: float
    steps: int
    noise: float
    contrast: float
    prompt: str
    negative_prompt: str
    cadence: int
    steering: dict[str, Any] = field(default_factory=dict)

    @property
    def denoising(self) -> float:
        return min(1.0, max(0.0, 1.0 - self.strength))

    def record(self) -> dict[str, Any]:
        """Return the applied values in the worker protocol's `applied` shape."""
        motion = self.motion
        record: dict[str, Any] = {
            "zoom": round(motion.zoom, 6),
            "angle": round(motion.angle, 6),
            "translation_x": round(motion.translation_x, 6),
            "translation_y": round(motion.translation_y, 6),
            "strength": round(self.strength, 6),
            "cfg": round(self.cfg, 4),
            "steps": self.steps,
            "noise": round(self.noise, 6),
            "cadence": self.cadence,
        }
        if motion.perspective is not None:
            record["perspective"] = {
                "theta": round(motion.perspective.theta, 6),
                "phi": round(motion.perspective.phi, 6),
                "gamma": round(motion.perspective.gamma, 6),
                "fov": round(motion.perspective.fov, 6),
            }
        if self.steering:
            record["steering"] = self.steering
        return record


class DeforumPlan:
    """Schedules of one render evaluated for all `total_frames` frames.

    For an extension, `total_frames` counts the base video's frames too and
    `index` continues after them, so `t` keeps counting and expressions such as
    sin(t) continue smoothly.
    """

    def __init__(
        self, settings: DeforumSettings, total_frames: int, defaults: JobDefaults
    ) -> None:
        self.settings = settings
        self.total_frames = total_frames
        self.defaults = defaults
        seed = defaults.seed
        self._series = {
            name: schedule.values(total_frames, seed)
            for name, schedule in settings.schedules.items()
        }
        self.prompts: PromptSchedule = build_prompt_schedule(
            settings,
            total_frames,
            seed,
            default_prompt=defaults.prompt,
            default_negative=defaults.negative_prompt,
        )

    def value(self, name: str, index: int) -> float | None:
        """Return schedule `name` at frame `index`, or None when it is not set."""
        series = self._series.get(name)
        return None if series is None else series[index]

    def seed_schedule(self) -> list[float]:
        return self._series["seed_schedule"]

    def frame(self, index: int, steering: Steering | None = None) -> FrameValues:
        """Return the values for frame `index` with live steering applied."""
        live = steering or Steering()
        strength = self._strength(index, live)
        cfg = self._cfg(index, live)
        prompt, negative = self.prompts.at(index)
        if live.use_live_prompt and live.positive_prompt is not None:
            prompt = live.positive_prompt
            if live.negative_prompt is not None:
                negative = live.negative_prompt
        noise = self._required("noise_schedule", index) * (live.noise_multiplier or 1.0)
        return FrameValues(
            index=index,
            motion=self._motion(index, live),
            strength=strength,
            cfg=cfg,
            steps=live.steps or self._steps(index),
            noise=max(0.0, noise),
            contrast=self._required("contrast_schedule", index),
            prompt=prompt,
            negative_prompt=negative,
            cadence=live.cadence or self.settings.diffusion_cadence,
            steering=live.as_record(),
        )

    def _required(self, name: str, index: int) -> float:
        value = self.value(name, index)
        assert value is not None, name
        return value

    def _strength(self, index: int, live: Steering) -> float:
        if live.use_live_strength and live.strength is not None:
            return live.strength
        scheduled = self.value("strength_schedule", index)
        if scheduled is None:
            return 1.0 - self.defaults.denoising
        return min(1.0, max(0.0, scheduled))

    def _cfg(self, index: int, live: Steering) -> float:
        if live.use_live_cfg and live.cfg is not None:
            return live.cfg
        scheduled = self.value("cfg_scale_schedule", index)
        return self.defaults.cfg_scale if scheduled is None else scheduled

    def _steps(self, index: int) -> int:
        if self.settings.enable_steps_scheduling:
            return max(1, round(self._required("steps_schedule", index)))
        return self.defaults.steps

    def _motion(self, index: int, live: Steering) -> Motion:
        """Return the frame's motion: schedules plus the live motion values.

        The translation_z schedule (Deforum's 3D unit) scales the zoom factor.
        The live values are converted with the LIVE_*_PER_UNIT scales and added.
        """
        three_d = self.settings.animation_mode == "3D"
        zoom = 1.0 if three_d else self._required("zoom", index)
        zoom *= zoom_from_translation_z(self._required("translation_z", index))
        zoom += LIVE_ZOOM_PER_UNIT * (live.translation_z or 0.0)
        angle = 0.0 if three_d else self._required("angle", index)
        angle += self._required("rotation_3d_z", index)
        angle += LIVE_ROTATION_DEGREES_PER_UNIT * (live.rotation_z or 0.0)
        translation_x = self._required("translation_x", index)
        translation_x += LIVE_PAN_PIXELS_PER_UNIT * (live.translation_x or 0.0)
        translation_y = self._required("translation_y", index)
        translation_y += LIVE_PAN_PIXELS_PER_UNIT * (live.translation_y or 0.0)
        return Motion(
            zoom=max(MIN_ZOOM, zoom),
            angle=angle,
            translation_x=translation_x,
            translation_y=translation_y,
            center_x=self._required("transform_center_x", index),
            center_y=self._required("transform_center_y", index),
            perspective=self._perspective(index, live, three_d),
        )

    def _perspective(
        self, index: int, live: Steering, three_d: bool
    ) -> Perspective | None:
        """Combine perspective flip, 3D-mode rotations and live tilt, turn and fov."""
        theta = LIVE_ROTATION_DEGREES_PER_UNIT * (live.rotation_x or 0.0)
        phi = LIVE_ROTATION_DEGREES_PER_UNIT * (live.rotation_y or 0.0)
        gamma = 0.0
        fov = self._required("perspective_flip_fv", index)
        if self.settings.enable_perspective_flip:
            theta += self._required("perspective_flip_theta", index)
            phi += self._required("perspective_flip_phi", index)
            gamma += self._required("perspective_flip_gamma", index)
        if three_d:
            theta += self._required("rotation_3d_x", index)
            phi += self._required("rotation_3d_y", index)
            fov = self._required("fov_schedule", index)
        if live.fov is not None:
            fov = live.fov
        if theta == 0.0 and phi == 0.0 and gamma == 0.0:
            return None
        return Perspective(theta=theta, phi=phi, gamma=gamma, fov=fov)


class SeedSequencer:
    """Deforum's seed behaviours: the seed for each diffused frame.

    - iter: +1 every `iter_n` diffused frames.
    - fixed: the same seed throughout.
    - ladder: +2, -1, +2, -1, ...
    - alternate: +1, -1, +1, ...
    - random: drawn from a generator seeded with the first seed, so reruns repeat.
    - schedule: read from `seed_schedule`, where -1 draws a random seed.
    """

    def __init__(
        self,
        seed: int,
        behavior: str,
        *,
        iter_n: int = 1,
        schedule: list[float] | None = None,
    ) -> None:
        self.seed = seed % SEED_LIMIT
        self.behavior = behavior
        self.iter_n = max(1, iter_n)
        self._schedule = schedule
        self._counter = 0
        self._random = random.Random(seed)

    def current(self, index: int) -> int:
        """Return the seed for the frame `index` that is about to be diffused."""
        if self.behavior == "schedule" and self._schedule is not None:
            scheduled = round(self._schedule[index])
            if scheduled < 0:
                return self._random.randrange(SEED_LIMIT)
            return scheduled % SEED_LIMIT
        return self.seed

    def random_seed(self) -> int:
        """Draw a seed from this sequence's own generator (a live seed of -1)."""
        return self._random.randrange(SEED_LIMIT)

    def reset(self, seed: int, behavior: str | None = None) -> None:
        """Continue from a new seed (a live seed change)."""
        self.seed = seed % SEED_LIMIT
        if behavior is not None:
            self.behavior = behavior
        self._counter = 0

    def advance(self) -> None:
        """Move to the next seed after a diffusion, as Deforum's next_seed does."""
        if self.behavior == "iter":
            step = 1 if self._counter % self.iter_n == 0 else 0
        elif self.behavior == "ladder":
            step = 2 if self._counter % 2 == 0 else -1
        elif self.behavior == "alternate":
            step = 1 if self._counter % 2 == 0 else -1
        elif self.behavior == "random":
            self.seed = self._random.randrange(SEED_LIMIT)
            step = 0
        else:
            step = 0
        self._counter += 1
        self.seed = (self.seed + step) % SEED_LIMIT
