"""Render cost estimates: frames per render and measured seconds per frame.

Seconds per frame are kept per (generator, model, size class) as an exponential moving
average in `render_timings`. The size class rounds the side of a square of the same
area to 64 pixels, so 512x512 and 496x528 share statistics while 512x512 and 1024x1024
do not. Without a measurement, the configured default for a 512x512 frame is scaled by
the frame's area.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import RenderKind
from mage_studio.queue.dialects import upsert
from mage_studio.queue.models import RenderTiming

# Weight of a new measurement in the moving average.
SMOOTHING = 0.3
REFERENCE_PIXELS = 512 * 512
DEFAULT_PREVIEW_FRAMES = 1


def size_class(width: int | None, height: int | None) -> int:
    if not width or not height:
        return 512
    return max(64, round(math.sqrt(width * height) / 64) * 64)


def timing_key(
    generator: str, model_id: int | None, width: int | None, height: int | None
) -> str:
    model = "-" if model_id is None else str(model_id)
    return f"{generator}:{model}:s{size_class(width, height)}"


def render_frame_count(
    render_kind: str | None,
    frame_count: int | None,
    source_frame_count: int | None,
    generation_parameters: Mapping[str, Any] | None,
) -> int:
    """Return how many frames a render produces.

    A preview renders the `frameCount` frames requested at generate; a full render
    renders the job's `frame_count` (or, before that is known, every source frame).
    """
    if render_kind == RenderKind.PREVIEW.value:
        requested = (generation_parameters or {}).get("frameCount")
        if isinstance(requested, int) and requested > 0:
            return requested
        return DEFAULT_PREVIEW_FRAMES
    return max(1, frame_count or source_frame_count or 1)


def default_seconds_per_frame(
    default_512: float, width: int | None, height: int | None
) -> float:
    side = size_class(width, height)
    return default_512 * (side * side) / REFERENCE_PIXELS


class TimingTable:
    """Seconds-per-frame lookups over a loaded copy of `render_timings`."""

    def __init__(self, rows: Mapping[str, float], default_512: float) -> None:
        self.rows = dict(rows)
        self.default_512 = default_512

    def seconds_per_frame(
        self,
        generator: str,
        model_id: int | None,
        width: int | None,
        height: int | None,
    ) -> float:
        key = timing_key(generator, model_id, width, height)
        measured = self.rows.get(key)
        if measured is not None:
            return measured
        return default_seconds_per_frame(self.default_512, width, height)


async def record_timing(
    session: AsyncSession, key: str, seconds_per_frame: float, now: datetime
) -> None:
    """Fold one measurement into the moving average for `key` (insert or update)."""
    values = {
        "key": key,
        "seconds_per_frame": seconds_per_frame,
        "samples": 1,
        "updated_at": now,
    }
    table = RenderTiming.__table__
    average = (
        table.c.seconds_per_frame * (1 - SMOOTHING) + seconds_per_frame * SMOOTHING
    )
    changes = {
        "seconds_per_frame": average,
        "samples": table.c.samples + 1,
        "updated_at": now,
    }
    await upsert(session, RenderTiming, values, key="key", changes=changes)
