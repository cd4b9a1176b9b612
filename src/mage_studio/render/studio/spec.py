"""What a worker receives for a studio job, and its local copies of the media.

The API sends a `StudioTask` (as the `studio` object of the claimed job spec):
the operation, its options as the client sent them, and signed URLs of the
finished jobs it reads. The worker downloads them into `StudioMedia` and runs
`run_studio`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mage_studio.render.client import DownloadFailed
from mage_studio.render.errors import MediaError, RenderError
from mage_studio.render.studio.options import OPTION_MODELS, Operation, StudioModel

_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")

Downloader = Callable[[str, Path], Awaitable[Path]]
"""Downloads a URL to a local path and returns the path (the worker's client)."""


class StudioInput(BaseModel):
    """One finished job that a studio job reads."""

    model_config = ConfigDict(extra="ignore")

    job_id: int
    video_url: str | None = Field(
        default=None, description="Signed URL of the job's finished video."
    )
    source_url: str | None = Field(
        default=None,
        description="Signed URL of the job's upload; sent for compositions only.",
    )


class StudioTask(BaseModel):
    """The studio part of a claimed job spec."""

    model_config = ConfigDict(extra="ignore")

    operation: Operation
    options: dict[str, Any] = Field(
        default_factory=dict, description="The operation's options, client names."
    )
    inputs: list[StudioInput] = Field(
        default_factory=list, description="The finished jobs read, in order."
    )
    soundtrack_url: str | None = None
    watermark_url: str | None = None


class StudioOptionsError(RenderError):
    """Stored options that this worker cannot read (for example a newer API's)."""


def studio_task_of(studio: Mapping[str, Any] | None) -> StudioTask:
    """Validate the `studio` object of a claimed job spec.

    Raises StudioOptionsError (not retryable) when it is missing or malformed.
    """
    if studio is None:
        raise StudioOptionsError("The studio job's spec has no studio task.")
    try:
        return StudioTask.model_validate(studio)
    except ValidationError as error:
        raise StudioOptionsError(f"The studio task is invalid: {error}") from error


def parse_options(operation: str, options: dict[str, Any]) -> StudioModel:
    """Validate a task's options with the operation's model."""
    model = OPTION_MODELS.get(operation)
    if model is None:
        raise StudioOptionsError(f"Unknown studio operation {operation!r}.")
    try:
        return model.model_validate(options)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise StudioOptionsError(
            f"The studio job's options are invalid: {problems}"
        ) from error


@dataclass(frozen=True, slots=True)
class StudioMedia:
    """Local copies of a studio job's inputs."""

    videos: tuple[Path, ...]
    """Finished videos of the input jobs, in order."""
    source: Path | None = None
    """The first input job's upload (compositions)."""
    soundtrack: Path | None = None
    watermark: Path | None = None


async def download_studio_media(
    task: StudioTask, folder: Path, download: Downloader
) -> StudioMedia:
    """Download the media of `task` into `folder`."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)

    async def fetch(url: str | None, name: str) -> Path | None:
        if not url:
            return None
        return await download(url, folder / (name + _suffix(url)))

    async def fetch_input(
        url: str | None, name: str, job_id: int, kind: str
    ) -> Path | None:
        try:
            return await fetch(url, name)
        except DownloadFailed as exc:
            # The API signs URLs only for inputs that exist when the job is claimed,
            # so a missing file means the input job was deleted after that.
            if exc.file_gone:
                raise MediaError(
                    f"The {kind} of input job {job_id} was not found. The job was "
                    "probably deleted after this studio job started."
                ) from exc
            raise

    videos: list[Path] = []
    for number, item in enumerate(task.inputs):
        video = await fetch_input(
            item.video_url, f"video-{number}", item.job_id, "video"
        )
        if video is None:
            raise MediaError(f"The video of job {item.job_id} is missing.")
        videos.append(video)
    first = task.inputs[0] if task.inputs else None
    source = None
    if first is not None:
        source = await fetch_input(first.source_url, "source", first.job_id, "upload")
    return StudioMedia(
        videos=tuple(videos),
        source=source,
        soundtrack=await fetch(task.soundtrack_url, "soundtrack"),
        watermark=await fetch(task.watermark_url, "watermark"),
    )


def _suffix(url: str) -> str:
    """Return the file extension of the URL's path (".mp4"), or "" when unusable."""
    suffix = Path(unquote(urlsplit(url).path)).suffix
    return suffix.lower() if _SUFFIX.match(suffix) else ""
