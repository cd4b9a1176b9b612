"""Uploads of real-world files (skipped when the samples folder is absent)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import VideoJob
from tests.jobs.conftest import Actor
from tests.jobs.factories import stored_files, upload_file


async def job_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(VideoJob)) or 0)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("audio-only.mov", 415),
        ("test3.mp3", 415),
        ("invalid_userdata.mp4", 422),
        ("broken-wav.wav", 422),
    ],
)
async def test_sample_rejected_without_trace(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    samples_dir: Path,
    name: str,
    status: int,
) -> None:
    before = stored_files(settings)

    response = await upload_file(client, owner.headers, samples_dir / "media" / name)

    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert stored_files(settings) == before
    assert await job_count(session) == 0


async def test_broken_wav_soundtrack_rejected(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    samples_dir: Path,
    media: Path,
) -> None:
    before = stored_files(settings)

    response = await upload_file(
        client,
        owner.headers,
        media / "clip.mp4",
        soundtrack=samples_dir / "media" / "broken-wav.wav",
    )

    assert response.status_code == 422
    assert "soundtrack" in response.json()["error"]["validator"]
    assert stored_files(settings) == before
    assert await job_count(session) == 0


@pytest.mark.parametrize(
    ("name", "kind", "size", "frames"),
    [
        ("iphone_rotated.mov", "video", (320, 568), 66),
        ("no_duration.webm", "video", (1280, 720), 74),
        ("pigs_in_a_polka.gif", "gif", (314, 273), 30),
        ("vacation_2017.jpg", "image", (2560, 1440), 1),
    ],
)
async def test_sample_accepted_with_probe(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    samples_dir: Path,
    name: str,
    kind: str,
    size: tuple[int, int],
    frames: int,
) -> None:
    response = await upload_file(client, owner.headers, samples_dir / "media" / name)

    assert response.status_code == 200, response.text
    job = await session.get(VideoJob, response.json()["id"])
    assert job is not None
    assert job.source_kind == kind
    assert (job.source_width, job.source_height) == size
    assert job.source_frame_count == frames
    assert job.original_filename == name


async def test_iphone_sample_keeps_audio_and_rate(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    samples_dir: Path,
) -> None:
    response = await upload_file(
        client,
        owner.headers,
        samples_dir / "media" / "iphone_rotated.mov",
        soundtrack=samples_dir / "media" / "test4.wav",
    )

    job = await session.get(VideoJob, response.json()["id"])
    assert job is not None
    assert job.has_audio is True
    assert job.mimetype == "video/quicktime"
    assert job.source_fps is not None
    assert abs(float(job.source_fps) - 29.97) < 0.05
    assert job.soundtrack_key is not None


@pytest.mark.parametrize("name", ["test3.mp3", "test4.wav", "fixture.m4a"])
async def test_sample_soundtracks_accepted(
    client: httpx.AsyncClient,
    owner: Actor,
    samples_dir: Path,
    media: Path,
    name: str,
) -> None:
    response = await upload_file(
        client,
        owner.headers,
        media / "silent.mp4",
        soundtrack=samples_dir / "media" / name,
    )

    assert response.status_code == 200, response.text
