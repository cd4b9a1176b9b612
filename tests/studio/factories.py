"""Factories for studio tests: finished jobs whose files are real media in storage."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.storage import new_key
from mage_studio.jobs.models import VideoJob
from mage_studio.users.models import User
from tests.render.render_factories import write_audio, write_video


async def store(app: FastAPI, path: Path, prefix: str) -> str:
    """Copy a local file into the app's storage and return its key."""
    key = new_key(prefix, path.suffix)
    await app.state.storage.save_file(key, path)
    return key


async def finished_job(
    app: FastAPI,
    session: AsyncSession,
    user: User,
    folder: Path,
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 12,
    rate: Fraction = Fraction(12),
    audio: bool = True,
    soundtrack: bool = False,
    **values: Any,
) -> VideoJob:
    """Insert a finished vid2vid job with a source upload and a rendered video."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    codec = "aac" if audio else None
    source = write_video(
        folder / "source.mp4",
        width=width,
        height=height,
        frames=frames,
        rate=rate,
        audio_codec=codec,
    )
    video = write_video(
        folder / "video.mp4",
        width=width,
        height=height,
        frames=frames,
        rate=rate,
        audio_codec=codec,
    )
    columns: dict[str, Any] = {
        "generator": "vid2vid",
        "status": "finished",
        "source_kind": "video",
        "source_key": await store(app, source, "uploads"),
        "video_key": await store(app, video, "renders"),
        "source_width": width,
        "source_height": height,
        "width": width,
        "height": height,
        "fps_num": rate.numerator,
        "fps_den": rate.denominator,
        "frame_count": frames,
        "length": float(frames / rate),
        "has_audio": audio,
    }
    if soundtrack:
        track = write_audio(folder / "soundtrack.wav", seconds=2.0)
        columns["soundtrack_key"] = await store(app, track, "soundtracks")
    columns.update(values)
    job = VideoJob(user_id=user.id, **columns)
    session.add(job)
    await session.flush()
    return job


def write_png(path: Path, width: int = 40, height: int = 20) -> Path:
    Image.new("RGBA", (width, height), (255, 255, 255, 128)).save(path, format="PNG")
    return path
