"""Deforum schedule strings: parsing and per-frame evaluation.

A schedule maps frames to values, for example
`"0:(1.0), 30:(1.02+0.002*sin(t)), max_f-1:(1)"`. Evaluation follows Deforum's
`FrameInterpolater` (sd-webui-deforum, `animation_key_frames.py`):

- A plain number at a key is interpolated linearly towards the next key.
- An expression at a key is evaluated at every frame from that key up to the
  next key, with `t` the frame index, `max_f` the last frame index (frames - 1)
  and `s` the seed.
- Frames before the first key keep the first key's value, and frames after the
  last key keep the last value.
- Keys may be expressions of `max_f` and `s` (`"max_f-2"`, quoted or not).
- Keys below 0 or past the last frame are ignored, as in Deforum. A key beyond
  the end therefore does not bend the values before it.

Two differences: commas inside a value (`max(t, 5)`) do not split keys, and a
text without any `key:` is a single value for every frame.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from mage_studio.render.errors import ScheduleError
from mage_studio.render.expressions import (
    Expression,
    ExpressionError,
    compile_expression,
)

MAX_SCHEDULE_LENGTH = 20_000
"""Characters in one schedule string."""
MAX_KEYFRAMES = 1_000

# Deforum's test for a plain number, applied after removing quotes and brackets.
_NUMBER = re.compile(r"^(?=.)[+-]?[0-9]*(\.[0-9]+)?$")
_QUOTES = "'\""


@dataclass(frozen=True, slots=True)
class Keyframe:
    """One `key:(value)` entry; the key is resolved once the frame count is known."""

    key: Expression
    value: Expression
    number: float | None
    """The value when it is a plain number (interpolated), else None (evaluated)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule string for one setting (`field`)."""

    field: str
    text: str
    keyframes: tuple[Keyframe, ...]

    def values(self, frame_count: int, seed: int = 0) -> list[float]:
        """Return the value of every frame 0..frame_count-1.

        Raises ScheduleError when an expression fails at some frame (division by
        zero, a math domain error, a non-finite result).
        """
        if frame_count <= 0:
            return []
        max_f = float(frame_count - 1)
        keys = self._resolve_keys(frame_count, seed)
        series = self._key_values(keys, frame_count, max_f, seed)
        return _interpolate(series)

    def constant(self) -> float | None:
        """Return the value when the schedule is one plain number, else None."""
        if len(self.keyframes) == 1:
            return self.keyframes[0].number
        return None

    def _resolve_keys(self, frame_count: int, seed: int) -> dict[int, Keyframe]:
        max_f = float(frame_count - 1)
        resolved: dict[int, Keyframe] = {}
        for keyframe in self.keyframes:
            frame = int(self._evaluate(keyframe.key, 0.0, max_f, seed))
            resolved[frame] = keyframe
        in_range = {
            frame: kf for frame, kf in resolved.items() if 0 <= frame < frame_count
        }
        if in_range:
            return in_range
        # Every key lies outside the clip: hold the value of the earliest key.
        earliest = min(resolved)
        return {0: resolved[earliest]}

    def _key_values(
        self, keys: dict[int, Keyframe], frame_count: int, max_f: float, seed: int
    ) -> list[float | None]:
        series: list[float | None] = [None] * frame_count
        current: Keyframe | None = None
        for frame in range(frame_count):
            at_key = frame in keys
            if at_key:
                current = keys[frame]
            if current is None:
                continue
            if current.number is None:
                series[frame] = self._evaluate(current.value, float(frame), max_f, seed)
            elif at_key:
                series[frame] = current.number
        return series

    def _evaluate(
        self, expression: Expression, t: float, max_f: float, seed: int
    ) -> float:
        try:
            return expression(t, max_f, float(seed))
        except ExpressionError as error:
            raise ScheduleError(
                self.field, f"{error} in {expression.source!r} at frame {int(t)}"
            ) from error


def _interpolate(series: list[float | None]) -> list[float]:
    """Fill gaps linearly between known values and hold the ends (pandas-style)."""
    known = [index for index, value in enumerate(series) if value is not None]
    result = [0.0] * len(series)
    first, last = known[0], known[-1]
    for index in range(len(series)):
        value = series[index]
        if value is not None:
            result[index] = value
        elif index < first:
            result[index] = _known(series, first)
        elif index > last:
            result[index] = _known(series, last)
    for start, end in itertools.pairwise(known):
        if end - start > 1:
            low, high = _known(series, start), _known(series, end)
            for index in range(start + 1, end):
                ratio = (index - start) / (end - start)
                result[index] = low + (high - low) * ratio
    return result


def _known(series: list[float | None], index: int) -> float:
    value = series[index]
    assert value is not None
    return value


def parse_schedule(text: str | float | int, field: str) -> Schedule:
    """Parse a Deforum schedule; raise ScheduleError(field, message) when it is invalid.

    Numbers (JSON numbers in imported settings) are accepted as a constant value.
    """
    if isinstance(text, bool):
        raise ScheduleError(field, "expected a schedule string, got a boolean")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise ScheduleError(field, f"{text} is not a finite number")
        text = repr(float(text))
    if not isinstance(text, str):
        raise ScheduleError(
            field, f"expected a schedule string, got {type(text).__name__}"
        )
    if len(text) > MAX_SCHEDULE_LENGTH:
        raise ScheduleError(
            field, f"the schedule is longer than {MAX_SCHEDULE_LENGTH} characters"
        )
    entries = list(_split_top_level(text, ","))
    if not any(entry.strip() for entry in entries):
        raise ScheduleError(field, "the schedule is empty")
    if len(entries) > MAX_KEYFRAMES:
        raise ScheduleError(
            field, f"the schedule has more than {MAX_KEYFRAMES} keyframes"
        )
    keyframes = tuple(
        _parse_entry(entry, field, single=len(entries) == 1) for entry in entries
    )
    return Schedule(field, text, keyframes)


def _parse_entry(entry: str, field: str, *, single: bool) -> Keyframe:
    parts = list(_split_top_level(entry, ":"))
    if len(parts) == 1 and single:
        key_text, value_text = "0", parts[0]
    elif len(parts) == 2:
        key_text, value_text = parts
    else:
        raise ScheduleError(field, f"expected 'frame:(value)', got {entry.strip()!r}")
    key = _compile(field, _strip_quotes(key_text), ("max_f", "s"), "frame")
    value_source = _strip_quotes(value_text)
    value = _compile(field, value_source, ("t", "max_f", "s"), "value")
    return Keyframe(key, value, _plain_number(value_source))


def _compile(
    field: str, source: str, variables: tuple[str, ...], what: str
) -> Expression:
    if not source.strip(" \t\r\n()"):
        raise ScheduleError(field, f"a keyframe has an empty {what}")
    try:
        return compile_expression(source, variables)
    except ExpressionError as error:
        raise ScheduleError(
            field, f"invalid {what} {source.strip()!r}: {error}"
        ) from error


def _plain_number(source: str) -> float | None:
    """Return the number when `source` is one, using Deforum's rule.

    Deforum removes quotes and brackets and then matches an optional sign, digits
    and an optional fraction (no exponent), so "(-0.5)" is a number and "1e-3"
    is an expression.
    """
    sanitized = "".join(ch for ch in source if ch not in "'\"()").strip()
    if _NUMBER.match(sanitized):
        return float(sanitized)
    return None


def _strip_quotes(text: str) -> str:
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in _QUOTES:
        return stripped[1:-1]
    return stripped


def _split_top_level(text: str, separator: str) -> Iterator[str]:
    """Split on `separator` outside brackets and quotes."""
    depth = 0
    quote: str | None = None
    start = 0
    for index, char in enumerate(text):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in _QUOTES:
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == separator and depth == 0:
            yield text[start:index]
            start = index + 1
    yield text[start:]


def evaluate_schedule(
    text: str | float | int, frame_count: int, *, seed: int = 0, field: str = "schedule"
) -> list[float]:
    """Parse `text` and return its value for every frame."""
    return parse_schedule(text, field).values(frame_count, seed)


def resolve_frame_key(key: str, frame_count: int, seed: int, field: str) -> int:
    """Evaluate a frame key such as "30" or "max_f-10" (used for prompts by frame)."""
    expression = _compile(field, _strip_quotes(key), ("max_f", "s"), "frame")
    try:
        return int(expression(0.0, float(frame_count - 1), float(seed)))
    except ExpressionError as error:
        raise ScheduleError(field, f"invalid frame {key!r}: {error}") from error
