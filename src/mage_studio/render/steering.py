"""Live steering values (DeforumationQT controls) as the renderer reads them per frame.

The API stores the values a user sets in the console and returns them with each
heartbeat. Motion values are added to the schedule values of the frame. Strength,
cfg and the prompts replace the scheduled ones only while their `use_live_*`
switch is on. Cadence, steps, seed, seed behaviour and the noise multiplier
apply whenever they are set. Absent values change nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Ranges as DeforumationQT sends them; values outside are clamped.
RANGES: dict[str, tuple[float, float]] = {
    "strength": (0.0, 1.0),
    "cfg": (1.0, 30.0),
    "steps": (1, 200),
    "cadence": (1, 30),
    "noise_multiplier": (0.01, 2.0),
    "fov": (20.0, 120.0),
    "translation_x": (-1000.0, 1000.0),
    "translation_y": (-1000.0, 1000.0),
    "translation_z": (-190.0, 190.0),
    "rotation_x": (-180.0, 180.0),
    "rotation_y": (-180.0, 180.0),
    "rotation_z": (-180.0, 180.0),
    "seed": (0, 2**32 - 1),
}
SEED_BEHAVIORS = {"iter", "fixed", "random", "ladder", "alternate", "schedule"}
MAX_PROMPT_LENGTH = 4000


@dataclass(frozen=True, slots=True)
class Steering:
    """One snapshot of the live values; None means "not set"."""

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
    number = _parse_number(raw)
    if number is None:
        return None
    low, high = RANGES[name]
    clamped = min(max(number, low), high)
    if name in ("steps", "cadence", "seed"):
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
