"""Deforum settings on the server: a preset's values with the user's overrides.

Overrides may be a few keys or a whole settings file saved by the Deforum extension.
They are imported and checked with the render package (the same code the worker
runs). An invalid schedule is rejected with a 422 naming the field
(`settings.zoom`) at submit time, instead of failing mid-render. Keys the renderer
does not use are reported back in `generation_parameters.ignored_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mage_studio.errors import ValidationFailed
from mage_studio.jobs.params import invalid
from mage_studio.render import deforum
from mage_studio.render.errors import SettingsError, SettingsProblem

# Keys of a saved settings file that the job's own fields decide: size, frame rate,
# frame count and seed come from the request (or the extended job) instead.
JOB_OWNED_KEYS = frozenset({"W", "H", "fps", "max_frames", "seed"})


@dataclass(frozen=True)
class MergedSettings:
    """The settings the worker renders with, the accepted overrides, ignored keys."""

    settings: dict[str, Any]
    overrides: dict[str, Any]
    ignored: list[str]


def _settings_error(problems: Sequence[SettingsProblem]) -> ValidationFailed:
    validator: dict[str, list[str]] = {}
    for problem in problems:
        name = (
            "settings" if problem.field == "settings" else f"settings.{problem.field}"
        )
        validator.setdefault(name, []).append(problem.message)
    return invalid(validator)


def import_overrides(
    overrides: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], list[str]]:
    """Check user overrides and return the supported ones (normalised) and the rest."""
    if not overrides:
        return {}, []
    try:
        imported = deforum.import_settings(overrides)
    except SettingsError as exc:
        raise _settings_error(exc.problems) from exc
    owned = sorted(key for key in imported.settings if key in JOB_OWNED_KEYS)
    accepted = {
        key: value for key, value in imported.settings.items() if key not in owned
    }
    return accepted, sorted({*imported.ignored, *owned})


def merge_settings(
    preset: Mapping[str, Any] | None,
    overrides: Mapping[str, Any] | None,
    *,
    frame_count: int,
    seed: int,
) -> MergedSettings:
    """Apply valid overrides to a preset and check the result for every frame.

    Raises a 422 naming the setting (`settings.zoom`) when a value is invalid or a
    schedule fails to evaluate at some frame of this render.
    """
    accepted, ignored = import_overrides(overrides)
    merged = deforum.merge_settings(preset, accepted)
    problems = deforum.validate_settings(merged, frame_count=frame_count, seed=seed)
    if problems:
        raise _settings_error(problems)
    return MergedSettings(merged, accepted, ignored)
