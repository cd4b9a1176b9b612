"""Credits of renders, through the jobs domain's `mage_studio.jobs.charges`.

The jobs domain reserves a render's credits when it queues it; the queue settles them
when the render ends: `settle_render(session, job, frames_done, settings)` captures
the frames done and releases the rest (results and cancels), and
`release_render(session, job)` releases everything (failures). While that module is
absent, renders are free.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import VideoJob

log = structlog.get_logger(__name__)

CHARGES_MODULE = "mage_studio.jobs.charges"


def _module() -> ModuleType | None:
    try:
        return importlib.import_module(CHARGES_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != CHARGES_MODULE:
            raise
        return None


async def _call(name: str, *args: Any) -> None:
    module = _module()
    function = getattr(module, name, None) if module is not None else None
    if function is None:
        return
    result = function(*args)
    if inspect.isawaitable(result):
        await result


async def settle(
    session: AsyncSession, job: VideoJob, frames_done: int, settings: Settings
) -> None:
    """Charge `frames_done` frames of the job's hold and release the rest."""
    await _call("settle_render", session, job, frames_done, settings)


async def release(session: AsyncSession, job: VideoJob) -> None:
    """Release the job's whole hold."""
    await _call("release_render", session, job)
