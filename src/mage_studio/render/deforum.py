"""Deforum settings: merging presets with overrides, importing saved settings files,
validation and prompts by frame.

Settings use Deforum's own key names (`zoom`, `strength_schedule`,
`diffusion_cadence`, `prompts`, ...) so that files saved by the Deforum
extension import unchanged. Keys this renderer does not use are returned in an
`ignored` list instead of failing. Values of supported keys are checked, and
each invalid one is reported as a SettingsProblem.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from mage_studio.render.errors import ScheduleError, SettingsError, SettingsProblem
from mage_studio.render.media.timeline import parse_rate
from mage_studio.render.motion import Border, NoiseSettings
from mage_studio.render.schedules import Schedule, parse_schedule, resolve_frame_key

SCHEDULE_DEFAULTS: dict[str, str] = {
    "angle": "0:(0)",
    "zoom": "0:(1.0)",
    "translation_x": "0:(0)",
    "translation_y": "0:(0)",
    "translation_z": "0:(0)",
    "rotation_3d_x": "0:(0)",
    "rotation_3d_y": "0:(0)",
    "rotation_3d_z": "0:(0)",
    "transform_center_x": "0:(0.5)",
    "transform_center_y": "0:(0.5)",
    "perspective_flip_theta": "0:(0)",
    "perspective_flip_phi": "0:(0)",
    "perspective_flip_gamma": "0:(0)",
    "perspective_flip_fv": "0:(53)",
    "fov_schedule": "0:(70)",
    "noise_schedule": "0:(0.065)",
    "contrast_schedule": "0:(1.0)",
    "steps_schedule": "0:(25)",
    "seed_schedule": "0:(s)",
}
"""Schedules and their defaults (noise, contrast and fov as in sd-webui-deforum)."""

JOB_SCHEDULES = ("strength_schedule", "cfg_scale_schedule")
"""Schedules that default to the job's own `denoising` and `cfg_scale`."""

SCHEDULE_FIELDS = (*SCHEDULE_DEFAULTS, *JOB_SCHEDULES)

ONLY_2D = ("zoom", "angle")
ONLY_3D = ("rotation_3d_x", "rotation_3d_y", "fov_schedule")
# rotation_3d_z and translation_z act in both modes here (see DeforumSettings).

COLOR_COHERENCE_MODES = {
    "none": None,
    "lab": "LAB",
    "hsv": "LAB",
    "rgb": "LAB",
    "match frame 0 lab": "LAB",
    "match frame 0 hsv": "LAB",
    "match frame 0 rgb": "LAB",
}
"""Deforum colour coherence modes. Every matching mode runs in L*a*b* here."""

SEED_BEHAVIORS = ("iter", "fixed", "random", "ladder", "alternate", "schedule")
MAX_CADENCE = 50
MAX_PROMPTS = 500
MAX_PROMPT_LENGTH = 4000
DEFAULT_VALIDATION_FRAMES = 600

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", "", "none"}


@dataclass(frozen=True, slots=True)
class DeforumSettings:
    """Parsed settings for one render.

    `animation_mode` "3D" is rendered with the 2D warp: translation_z zooms,
    rotation_3d_z rolls, rotation_3d_x/y tilt through the perspective warp with
    `fov_schedule`, and the 2D-only `zoom` and `angle` are ignored as Deforum's
    3D mode ignores them.
    """

    schedules: Mapping[str, Schedule]
    animation_mode: str = "2D"
    border: Border = "replicate"
    enable_perspective_flip: bool = False
    enable_steps_scheduling: bool = False
    diffusion_cadence: int = 1
    color_coherence: str | None = None
    noise: NoiseSettings = field(default_factory=NoiseSettings)
    seed_behavior: str = "iter"
    seed_iter_n: int = 1
    prompts: Mapping[str, str] = field(default_factory=dict)
    prompt_positive: str = ""
    """Text added before every prompt (Deforum's animation_prompts_positive)."""
    prompt_negative: str = ""
    """Text added to every negative prompt (animation_prompts_negative)."""
    max_frames: int | None = None
    fps: Fraction | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    steps: int | None = None

    def schedule(self, name: str) -> Schedule | None:
        """Return the schedule `name`, or None for an unset job schedule."""
        return self.schedules.get(name)


@dataclass(frozen=True, slots=True)
class ParsedSettings:
    """Settings plus the keys that were present but do not affect the render."""

    settings: DeforumSettings
    ignored: list[str]


# --- value coercion -------------------------------------------------------------


def parse_bool(value: object) -> bool:
    """Read a boolean written as true/false, "True", 1/0, "yes"/"no" or "on"/"off"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"expected true or false, got {value!r}")


def parse_int(value: object, low: int, high: int) -> int:
    """Read an integer given as a number or a string ("2", "2.0") within [low, high]."""
    number = parse_float(value, low, high)
    if not number.is_integer():
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(number)


def parse_float(value: object, low: float, high: float) -> float:
    """Read a number given as a number or a numeric string within [low, high]."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not low <= number <= high:
        raise ValueError(f"{value!r} is outside {low:g}-{high:g}")
    return number


def _parse_choice(value: object, choices: Mapping[str, Any]) -> Any:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        allowed = ", ".join(sorted({k for k in choices if k}))
        raise ValueError(f"expected one of {allowed}, got {value!r}")
    return choices[value.strip().lower()]


def _parse_text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    if len(value) > MAX_PROMPT_LENGTH:
        raise ValueError(f"text is longer than {MAX_PROMPT_LENGTH} characters")
    return value.strip()


def _parse_seed(value: object) -> int:
    return parse_int(value, -1, 2**32 - 1)


def _parse_fps(value: object) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a frame rate, got {value!r}")
    rate = parse_rate(value)
    if rate > 60:
        raise ValueError(f"{value!r} is outside 1-60 fps")
    return rate


def _parse_size(value: object) -> int:
    size = parse_int(value, 64, 4096)
    if size % 8:
        raise ValueError(f"{size} is not a multiple of 8")
    return size


OPTION_PARSERS: dict[str, Callable[[object], Any]] = {
    "animation_mode": lambda v: _parse_choice(v, {"2d": "2D", "3d": "3D"}),
    "border": lambda v: _parse_choice(
        v,
        {
            "replicate": "replicate",
            "wrap": "wrap",
            "smart": "replicate",
            "zeros": "constant",
        },
    ),
    "enable_perspective_flip": parse_bool,
    "enable_steps_scheduling": parse_bool,
    "diffusion_cadence": lambda v: parse_int(v, 1, MAX_CADENCE),
    "color_coherence": lambda v: _parse_choice(v, COLOR_COHERENCE_MODES),
    "noise_type": lambda v: _parse_choice(
        v, {"uniform": "uniform", "perlin": "perlin"}
    ),
    "perlin_octaves": lambda v: parse_int(v, 1, 8),
    "perlin_persistence": lambda v: parse_float(v, 0.0, 1.0),
    "perlin_w": lambda v: parse_int(v, 1, 64),
    "perlin_h": lambda v: parse_int(v, 1, 64),
    "seed_behavior": lambda v: _parse_choice(v, {b: b for b in SEED_BEHAVIORS}),
    "seed_iter_N": lambda v: parse_int(v, 1, 10_000),
    "animation_prompts_positive": _parse_text,
    "animation_prompts_negative": _parse_text,
    "max_frames": lambda v: parse_int(v, 1, 100_000),
    "fps": _parse_fps,
    "W": _parse_size,
    "H": _parse_size,
    "seed": _parse_seed,
    "steps": lambda v: parse_int(v, 1, 200),
}
"""Non-schedule keys this renderer applies, with the function that checks each value."""

PROMPT_KEYS = ("prompts", "animation_prompts")


# --- parsing --------------------------------------------------------------------


def parse_settings(values: Mapping[str, Any]) -> ParsedSettings:
    """Check Deforum settings and build DeforumSettings.

    Raises SettingsError listing every invalid value. Keys this renderer does not
    use, and keys that the chosen animation mode ignores, are returned in
    `ignored` (sorted).
    """
    problems: list[SettingsProblem] = []
    ignored: list[str] = []
    schedules: dict[str, Schedule] = {}
    options: dict[str, Any] = {}
    prompts: dict[str, str] = {}
    for key, value in values.items():
        if key in SCHEDULE_FIELDS:
            _collect_schedule(key, value, schedules, problems)
        elif key in OPTION_PARSERS:
            _collect_option(key, value, options, problems)
        elif key in PROMPT_KEYS:
            _collect_prompts(key, value, prompts, problems)
        else:
            ignored.append(key)
    if problems:
        raise SettingsError(problems)
    settings = _build(schedules, options, prompts)
    ignored.extend(_ignored_by_mode(settings.animation_mode, values))
    return ParsedSettings(settings, sorted(set(ignored)))


def _collect_schedule(
    key: str,
    value: object,
    schedules: dict[str, Schedule],
    problems: list[SettingsProblem],
) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return  # an empty field in a saved file keeps the default
    try:
        schedules[key] = parse_schedule(value, key)  # type: ignore[arg-type]
    except ScheduleError as error:
        problems.append(SettingsProblem(key, error.detail))


def _collect_option(
    key: str, value: object, options: dict[str, Any], problems: list[SettingsProblem]
) -> None:
    try:
        options[key] = OPTION_PARSERS[key](value)
    except ValueError as error:
        problems.append(SettingsProblem(key, str(error)))


def _collect_prompts(
    key: str, value: object, prompts: dict[str, str], problems: list[SettingsProblem]
) -> None:
    try:
        prompts.update(parse_prompts(value))
    except ValueError as error:
        problems.append(SettingsProblem(key, str(error)))


def parse_prompts(value: object) -> dict[str, str]:
    """Read prompts by frame ({"0": "...", "max_f-10": "..."}), also as JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"prompts are not valid JSON ({error.msg})") from None
    if not isinstance(value, Mapping):
        raise ValueError("expected prompts as an object of frame: prompt")
    if len(value) > MAX_PROMPTS:
        raise ValueError(f"more than {MAX_PROMPTS} prompts")
    prompts: dict[str, str] = {}
    for key, prompt in value.items():
        if not isinstance(prompt, str):
            raise ValueError(f"the prompt at frame {key!r} is not text")
        if len(prompt) > MAX_PROMPT_LENGTH:
            raise ValueError(f"the prompt at frame {key!r} is too long")
        try:
            resolve_frame_key(str(key), 1000, 0, "prompts")
        except ScheduleError as error:
            raise ValueError(error.detail) from None
        prompts[str(key)] = prompt
    return prompts


def _build(
    schedules: dict[str, Schedule], options: dict[str, Any], prompts: dict[str, str]
) -> DeforumSettings:
    complete = {
        name: schedules.get(name) or parse_schedule(default, name)
        for name, default in SCHEDULE_DEFAULTS.items()
    }
    complete.update(
        {name: schedules[name] for name in JOB_SCHEDULES if name in schedules}
    )
    noise = NoiseSettings(
        kind=options.get("noise_type", "perlin"),
        perlin_octaves=options.get("perlin_octaves", 4),
        perlin_persistence=options.get("perlin_persistence", 0.5),
        perlin_cells_x=options.get("perlin_w", 8),
        perlin_cells_y=options.get("perlin_h", 8),
    )
    return DeforumSettings(
        schedules=complete,
        animation_mode=options.get("animation_mode", "2D"),
        border=options.get("border", "replicate"),
        enable_perspective_flip=options.get("enable_perspective_flip", False),
        enable_steps_scheduling=options.get("enable_steps_scheduling", False),
        diffusion_cadence=options.get("diffusion_cadence", 1),
        color_coherence=options.get("color_coherence"),
        noise=noise,
        seed_behavior=options.get("seed_behavior", "iter"),
        seed_iter_n=options.get("seed_iter_N", 1),
        prompts=prompts,
        prompt_positive=options.get("animation_prompts_positive", ""),
        prompt_negative=options.get("animation_prompts_negative", ""),
        max_frames=options.get("max_frames"),
        fps=options.get("fps"),
        width=options.get("W"),
        height=options.get("H"),
        seed=options.get("seed"),
        steps=options.get("steps"),
    )


def _ignored_by_mode(mode: str, values: Mapping[str, Any]) -> list[str]:
    unused = ONLY_3D if mode == "2D" else ONLY_2D
    return [key for key in unused if key in values]


# --- import, merge, validate ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportedSettings:
    """A saved Deforum settings file reduced to the keys this renderer applies.

    `settings` is JSON-serialisable: schedules as their strings, options as
    normalised values (booleans, integers, "24000/1001" for fps), prompts as an
    object. Store it as a job's setting overrides.
    """

    settings: dict[str, Any]
    ignored: list[str]


def import_settings(source: str | bytes | Mapping[str, Any]) -> ImportedSettings:
    """Import a settings file as users save it from the Deforum extension.

    Accepts the file's text (UTF-8, with or without a byte order mark, any line
    endings) or its parsed object. Raises SettingsError for text that is not a
    JSON object and for invalid values of supported keys.
    """
    values = _load_json(source) if isinstance(source, str | bytes) else source
    parsed = parse_settings(values)
    supported = {
        key: value for key, value in values.items() if key not in parsed.ignored
    }
    return ImportedSettings(_normalise(supported), parsed.ignored)


def _load_json(source: str | bytes) -> Mapping[str, Any]:
    text = (
        source.decode("utf-8-sig", errors="replace")
        if isinstance(source, bytes)
        else source
    )
    try:
        loaded = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as error:
        problem = SettingsProblem(
            "settings", f"not valid JSON: {error.msg} at line {error.lineno}"
        )
        raise SettingsError([problem]) from None
    if not isinstance(loaded, dict):
        raise SettingsError([SettingsProblem("settings", "expected a JSON object")])
    return loaded


def _normalise(values: Mapping[str, Any]) -> dict[str, Any]:
    normalised: dict[str, Any] = {}
    for key, value in values.items():
        if key in SCHEDULE_FIELDS:
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            normalised[key] = value if isinstance(value, str) else str(value)
        elif key in PROMPT_KEYS:
            normalised["prompts"] = {
                **normalised.get("prompts", {}),
                **parse_prompts(value),
            }
        elif key == "fps":
            rate = _parse_fps(value)
            normalised[key] = (
                str(rate.numerator) if rate.denominator == 1 else f"{rate}"
            )
        else:
            normalised[key] = OPTION_PARSERS[key](value)
    return normalised


def merge_settings(
    preset: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return the preset's settings with the user's overrides applied key by key.

    An override of None keeps the preset's value, so clients can send sparse
    forms. Prompts are replaced as a whole, not merged frame by frame.
    """
    merged = dict(preset or {})
    for key, value in (overrides or {}).items():
        if value is not None:
            merged[key] = value
    return merged


def validate_settings(
    settings: Mapping[str, Any], *, frame_count: int | None = None, seed: int = 0
) -> list[SettingsProblem]:
    """Return every problem in `settings`, or an empty list when they are valid.

    Beyond parsing, every schedule is evaluated for each frame (`frame_count`,
    else the settings' max_frames, else 600) so that a division by zero at frame
    45 is found at submit time instead of in the middle of a render.
    """
    try:
        parsed = parse_settings(settings)
    except SettingsError as error:
        return error.problems
    frames = frame_count or parsed.settings.max_frames or DEFAULT_VALIDATION_FRAMES
    problems: list[SettingsProblem] = []
    for name, schedule in parsed.settings.schedules.items():
        if name not in settings:
            continue
        try:
            schedule.values(frames, seed)
        except ScheduleError as error:
            problems.append(SettingsProblem(name, error.detail))
    for key in parsed.settings.prompts:
        try:
            resolve_frame_key(key, frames, seed, "prompts")
        except ScheduleError as error:
            problems.append(SettingsProblem("prompts", error.detail))
    return problems


# --- prompts by frame ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromptSchedule:
    """Positive and negative prompts by frame, each lasting until the next key."""

    keys: tuple[int, ...]
    prompts: tuple[tuple[str, str], ...]

    def at(self, frame: int) -> tuple[str, str]:
        """Return (positive, negative) for `frame` (the first entry before its key)."""
        chosen = 0
        for position, key in enumerate(self.keys):
            if key <= frame:
                chosen = position
            else:
                break
        return self.prompts[chosen]


def build_prompt_schedule(
    settings: DeforumSettings,
    frame_count: int,
    seed: int,
    *,
    default_prompt: str,
    default_negative: str,
) -> PromptSchedule:
    """Resolve prompt keys for `frame_count` frames and compose each prompt.

    A prompt may carry its own negative part after "--neg", as in Deforum. The
    settings' common positive text goes before every prompt, and the common
    negative text and the job's negative prompt are appended to every negative.
    """
    entries: dict[int, str] = {}
    for key, text in settings.prompts.items():
        entries[resolve_frame_key(key, frame_count, seed, "prompts")] = text
    if not entries:
        entries[0] = default_prompt
    keys = tuple(sorted(entries))
    composed = tuple(_compose(entries[key], settings, default_negative) for key in keys)
    return PromptSchedule(keys, composed)


def _compose(
    text: str, settings: DeforumSettings, default_negative: str
) -> tuple[str, str]:
    positive, _, negative = text.partition("--neg")
    positive_parts = [settings.prompt_positive, positive.strip()]
    negative_parts = [
        negative.strip(),
        settings.prompt_negative,
        default_negative.strip(),
    ]
    return (
        " ".join(part for part in positive_parts if part),
        ", ".join(part for part in negative_parts if part),
    )
