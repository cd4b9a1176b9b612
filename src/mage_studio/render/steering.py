"""Live steering values (DeforumationQT controls) as the renderer reads them per frame.

The API stores the values a user sets in the console and returns them with each
heartbeat. Motion values are added to the frame's schedule values, per frame:
translation in pixels, rotation in degrees, and `translation_z` (zoom, -1 to 1)
as 0.05 of zoom factor per unit (scales in mage_studio.render.animation).
Strength, cfg and the prompts replace the scheduled ones only while their
`use_live_*` switch is on. Cadence, steps, seed, seed behaviour, fov and the
noise multiplier apply whenever they are set. Absent values change nothing.
A changed value can ease in over `ease_frames` frames (see SteeringEaser).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Ranges of the worker protocol's SteeringValues, as DeforumationQT sends them.
# Values outside are clamped.
RANGES: dict[str, tuple[float, float]] = {
    "strength": (0.0, 1.0),
    "cfg": (1.0, 30.0),
    "steps": (1, 200),
    "cadence": (1, 30),
    "noise_multiplier": (0.01, 2.0),
    "fov": (20.0, 120.0),
    "translation_x": (-100.0, 100.0),
    "translation_y": (-100.0, 100.0),
    "translation_z": (-1.0, 1.0),
    "rotation_x": (-360.0, 360.0),
    "rotation_y": (-360.0, 360.0),
    "rotation_z": (-360.0, 360.0),
    "seed": (-1, 2**32 - 1),
    "ease_frames": (0, 100),
}
SEED_BEHAVIORS = {"iter", "fixed", "random", "ladder", "alternate", "schedule"}
EASE_CURVES = {"linear", "ease", "ease-in", "ease-out", "ease-in-out"}
INTEGER_FIELDS = {"steps", "cadence", "seed", "ease_frames"}
MAX_PROMPT_LENGTH = 10_000


@dataclass(frozen=True, slots=True)
class Steering:
    """One snapshot of the live values, where None means "not set"."""

    strength: float | None = None
    cfg: float | None = None
    steps: int | None = None
    seed: int | None = None
    seed_behavior: str | None = None
    cadence: int | None = None
    noise_multiplier: float | None = None
    translation_x: float | None = None
    translation_y: float | None = None
    translation_z: float | None = None
    rotation_x: float | None = None
    rotation_y: float | None = None
    rotation_z: float | None = None
    fov: float | None = None
    positive_prompt: str | None = None
    negative_prompt: str | None = None
    use_live_strength: bool = False
    use_live_cfg: bool = False
    use_live_prompt: bool = False
    ease_frames: int = 0
    """Frames over which a changed value moves from its old to its new value."""
    ease_curve: str = "linear"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Steering:
        """Read steering values sent by the API, skipping invalid ones.

        A value of the wrong type is logged and ignored instead of failing the
        render, because the console may send values this worker does not know.
        """
        if not values:
            return cls()
        parsed: dict[str, Any] = {}
        for field in fields(cls):
            raw = values.get(field.name)
            if raw is None:
                continue
            value = _parse_field(field.name, raw)
            if value is None:
                log.warning(
                    "steering.value_ignored", field=field.name, value=repr(raw)[:80]
                )
                continue
            parsed[field.name] = value
        return cls(**parsed)

    @property
    def is_empty(self) -> bool:
        return self == Steering()

    def as_record(self) -> dict[str, Any]:
        """Return the values that are set, for the per-frame applied-values record."""
        record: dict[str, Any] = {}
        for field in fields(self):
            if field.name in ("ease_frames", "ease_curve"):
                continue
            value = getattr(self, field.name)
            if value is not None and value is not False:
                record[field.name] = value
        return record


def _parse_field(name: str, raw: object) -> object | None:
    if name.startswith("use_live_"):
        return _parse_switch(raw)
    if name in ("positive_prompt", "negative_prompt"):
        return raw[:MAX_PROMPT_LENGTH] if isinstance(raw, str) else None
    if name == "seed_behavior":
        return raw if isinstance(raw, str) and raw in SEED_BEHAVIORS else None
    if name == "ease_curve":
        return raw if isinstance(raw, str) and raw in EASE_CURVES else None
    number = _parse_number(raw)
    if number is None:
        return None
    low, high = RANGES[name]
    clamped = min(max(number, low), high)
    if name in INTEGER_FIELDS:
        return round(clamped)
    return clamped


def _parse_number(raw: object) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None


def _parse_switch(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return raw != 0
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
    return None


EASED_FIELDS = (
    "strength",
    "cfg",
    "noise_multiplier",
    "fov",
    "translation_x",
    "translation_y",
    "translation_z",
    "rotation_x",
    "rotation_y",
    "rotation_z",
)
MOTION_FIELDS = {f for f in EASED_FIELDS if f.startswith(("translation_", "rotation_"))}

# CSS timing functions as cubic Bezier control points (x1, y1, x2, y2).
_BEZIERS = {
    "ease": (0.25, 0.1, 0.25, 1.0),
    "ease-in": (0.42, 0.0, 1.0, 1.0),
    "ease-out": (0.0, 0.0, 0.58, 1.0),
    "ease-in-out": (0.42, 0.0, 0.58, 1.0),
}


def ease(curve: str, progress: float) -> float:
    """Return the eased fraction (0-1) of a transition `progress` (0-1) along `curve`.

    The curves are the CSS timing functions of the same names. "linear" and
    unknown names return `progress` unchanged.
    """
    x = min(max(progress, 0.0), 1.0)
    points = _BEZIERS.get(curve)
    if points is None or x in (0.0, 1.0):
        return x
    x1, y1, x2, y2 = points
    low, high = 0.0, 1.0
    for _ in range(30):  # bisection on the Bezier parameter until its x matches
        middle = (low + high) / 2
        if _bezier(middle, x1, x2) < x:
            low = middle
        else:
            high = middle
    return _bezier((low + high) / 2, y1, y2)


def _bezier(t: float, p1: float, p2: float) -> float:
    inverse = 1 - t
    return 3 * inverse * inverse * t * p1 + 3 * inverse * t * t * p2 + t**3


@dataclass(slots=True)
class _Transition:
    start: float
    goal: float
    frames: int
    curve: str
    step: int = 0


class SteeringEaser:
    """Smooths live value changes over `ease_frames` frames, as DeforumationQT does.

    Call `apply` once per frame with the latest values. When a numeric value
    changes, the returned value moves from the one used on the previous frame
    to the new one along `ease_curve`. Motion values set for the first time
    ease in from 0, and other values take effect at once the first time.
    """

    def __init__(self) -> None:
        self._current: dict[str, float] = {}
        self._transitions: dict[str, _Transition] = {}

    def apply(self, target: Steering) -> Steering:
        eased: dict[str, Any] = {}
        for name in EASED_FIELDS:
            goal = getattr(target, name)
            if goal is None:
                self._current.pop(name, None)
                self._transitions.pop(name, None)
                continue
            value = self._step(name, float(goal), target)
            self._current[name] = value
            eased[name] = value
        return replace(target, **eased)

    def _step(self, name: str, goal: float, target: Steering) -> float:
        previous = self._current.get(name)
        if previous is None and name in MOTION_FIELDS:
            previous = 0.0
        if previous is None or target.ease_frames <= 0 or previous == goal:
            self._transitions.pop(name, None)
            return goal
        transition = self._transitions.get(name)
        if transition is None or transition.goal != goal:
            transition = _Transition(
                previous, goal, target.ease_frames, target.ease_curve
            )
            self._transitions[name] = transition
        transition.step += 1
        if transition.step >= transition.frames:
            del self._transitions[name]
            return goal
        fraction = ease(transition.curve, transition.step / transition.frames)
        return transition.start + (transition.goal - transition.start) * fraction
