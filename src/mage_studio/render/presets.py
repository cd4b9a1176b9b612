"""Catalog of named Deforum motion presets.

Each preset is a dict of Deforum settings (schedule strings and a few options)
that a job's own settings override key by key. The server seeds its preset table
from `PRESETS` and `preset_catalog()`. The worker receives merged settings and
never looks presets up by name.

2D motion units, per frame: `zoom` is a scale factor (1.01 = 1 % closer),
`angle` is degrees counter-clockwise, `translation_x`/`translation_y` are pixels
(positive moves the picture right/down), and `translation_z` is Deforum's 3D
depth unit, rendered as an extra zoom (see `mage_studio.render.motion`).
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Preset:
    """A catalog entry: stable name, display label, description and settings."""

    name: str
    label: str
    description: str
    settings: dict[str, Any]


_CATALOG: tuple[Preset, ...] = (
    Preset("static", "Static", "No camera motion, the picture evolves in place.", {}),
    Preset(
        "zoom-in",
        "Zoom in",
        "A steady push into the picture.",
        {"zoom": "0:(1.02)"},
    ),
    Preset(
        "zoom-out",
        "Zoom out",
        "A steady pull away from the picture.",
        {"zoom": "0:(0.98)"},
    ),
    Preset(
        "slow-zoom",
        "Slow zoom",
        "Deforum's default gentle zoom with a slight pulse.",
        {"zoom": "0:(1.0025+0.002*sin(1.25*3.14*t/30))"},
    ),
    Preset(
        "orbit-left",
        "Orbit left",
        "Turns counter-clockwise while drifting left and closing in.",
        {"angle": "0:(0.6)", "zoom": "0:(1.008)", "translation_x": "0:(-1.5)"},
    ),
    Preset(
        "orbit-right",
        "Orbit right",
        "Turns clockwise while drifting right and closing in.",
        {"angle": "0:(-0.6)", "zoom": "0:(1.008)", "translation_x": "0:(1.5)"},
    ),
    Preset(
        "spiral-in",
        "Spiral in",
        "Rotates and zooms in at the same time.",
        {"angle": "0:(1.5)", "zoom": "0:(1.03)"},
    ),
    Preset(
        "pan-left",
        "Pan left",
        "The camera moves left, so the picture slides right.",
        {"translation_x": "0:(3)"},
    ),
    Preset(
        "pan-right",
        "Pan right",
        "The camera moves right, so the picture slides left.",
        {"translation_x": "0:(-3)"},
    ),
    Preset(
        "pan-up",
        "Pan up",
        "The camera moves up, so the picture slides down.",
        {"translation_y": "0:(3)"},
    ),
    Preset(
        "pan-down",
        "Pan down",
        "The camera moves down, so the picture slides up.",
        {"translation_y": "0:(-3)"},
    ),
    Preset(
        "drift",
        "Drift",
        "A slow, wandering float with a light zoom.",
        {
            "zoom": "0:(1.004)",
            "translation_x": "0:(1.5*sin(2*pi*t/90))",
            "translation_y": "0:(1.0*cos(2*pi*t/120))",
            "angle": "0:(0.15*sin(2*pi*t/150))",
        },
    ),
    Preset(
        "pulse",
        "Pulse",
        "Zooms in and out rhythmically, about once a second at 24 fps.",
        {"zoom": "0:(1+0.02*sin(2*pi*t/24))"},
    ),
    Preset(
        "tilt-forward",
        "Tilt forward",
        "Tips the picture away from the viewer with a 2D perspective flip.",
        {
            "enable_perspective_flip": True,
            "perspective_flip_theta": "0:(0.4)",
            "perspective_flip_fv": "0:(53)",
            "zoom": "0:(1.005)",
        },
    ),
)

PRESETS: dict[str, dict[str, Any]] = {
    preset.name: preset.settings for preset in _CATALOG
}
"""Settings of every preset by name."""

DEFAULT_PRESET = "slow-zoom"


def preset_catalog() -> list[Preset]:
    """Return all presets in display order, as independent copies."""
    return [deepcopy(preset) for preset in _CATALOG]


def preset_settings(name: str) -> dict[str, Any]:
    """Return a copy of a preset's settings, or raise KeyError for an unknown name."""
    if name not in PRESETS:
        known = ", ".join(PRESETS)
        raise KeyError(f"unknown preset {name!r} (known presets: {known})")
    return deepcopy(PRESETS[name])
