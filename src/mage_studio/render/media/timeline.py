"""Frame timing: frame rate normalisation and resampling to a constant rate."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import TypeVar

T = TypeVar("T")

NTSC_RATES = tuple(Fraction(base * 1000, 1001) for base in (24, 30, 48, 60, 120))
"""The 1000/1001 rates of NTSC-derived video (23.976, 29.97, 47.952, 59.94, 119.88)."""

_SNAP_TOLERANCE = 0.005
MAX_FRAME_RATE = Fraction(240)


def parse_rate(value: str | float | int | Fraction) -> Fraction:
    """Parse a frame rate such as "24000/1001", "25", 29.97 or a Fraction.

    Floats are snapped to the NTSC rates when they are within 0.5 % of one, so
    29.97 becomes 30000/1001.
    """
    if isinstance(value, Fraction):
        rate = value
    elif isinstance(value, str):
        try:
            rate = Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as error:
            raise ValueError(f"invalid frame rate {value!r}") from error
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"invalid frame rate {value!r}")
        rate = normalise_rate(Fraction(value))
    else:
        rate = Fraction(value)
    if rate <= 0 or rate > MAX_FRAME_RATE:
        raise ValueError(f"frame rate {value!r} is outside 0-{MAX_FRAME_RATE} fps")
    return rate


def format_rate(rate: Fraction) -> str:
    """Format a rate the way the worker protocol sends it: "24000/1001" or "25"."""
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{rate.numerator}/{rate.denominator}"


def normalise_rate(rate: Fraction) -> Fraction:
    """Return the standard rate closest to a measured one.

    Rates whose denominator is 1 or 1001 are already exact and are kept. Others
    (an average over a variable-rate recording, a time base artefact such as
    39600/1321) snap to an NTSC rate or an integer within 0.5 %, and otherwise
    to the nearest fraction with a denominator of at most 1001.
    """
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, got {rate}")
    if rate.denominator in (1, 1001):
        return rate
    for candidate in NTSC_RATES:
        if abs(rate - candidate) / candidate <= _SNAP_TOLERANCE:
            return candidate
    nearest_integer = Fraction(max(1, round(rate)))
    if abs(rate - nearest_integer) / nearest_integer <= _SNAP_TOLERANCE:
        return nearest_integer
    return rate.limit_denominator(1001)


def slot_of(time: Fraction, rate: Fraction) -> int:
    """Return the output frame index whose time is nearest to `time` (ties round up)."""
    return math.floor(time * rate + Fraction(1, 2))


def frame_count_for(duration: Fraction, rate: Fraction) -> int:
    """Return the number of constant-rate frames that fill `duration` seconds."""
    return max(0, slot_of(duration, rate))


def resample_to_rate(
    frames: Iterable[tuple[Fraction, Fraction | None, T]],
    rate: Fraction,
    default_duration: Fraction,
) -> Iterator[tuple[int, T]]:
    """Map timed frames onto a constant-rate timeline, duplicating or dropping frames.

    `frames` yields (start, duration, payload) with start in seconds from the first
    frame, in presentation order. Output frame n shows the last source frame whose
    start rounds to n or earlier, which is how FFmpeg's `fps` filter (round to
    nearest) converts variable-rate video. A constant-rate source at the same rate
    passes through unchanged. The last frame lasts its own duration, or
    `default_duration` when the container does not record one.
    """
    next_slot = 0
    previous: tuple[Fraction, Fraction | None, T] | None = None
    for frame in frames:
        if previous is not None:
            end_slot = slot_of(max(frame[0], previous[0]), rate)
            while next_slot < end_slot:
                yield next_slot, previous[2]
                next_slot += 1
        previous = frame
    if previous is None:
        return
    start, duration, payload = previous
    last_duration = duration if duration else default_duration
    end_slot = slot_of(start + last_duration, rate)
    if next_slot == 0:
        end_slot = max(end_slot, 1)  # a clip shorter than one output frame still shows
    while next_slot < end_slot:
        yield next_slot, payload
        next_slot += 1


def even_indices(total: int, count: int) -> list[int]:
    """Pick `count` indices spread evenly over `total` frames, first and last included.

    One index picks the first frame. When `count` exceeds `total`, every frame is
    returned once.
    """
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(total))
    if count == 1:
        return [0]
    step = Fraction(total - 1, count - 1)
    return [math.floor(step * i + Fraction(1, 2)) for i in range(count)]
