"""Fixtures of the job tests: generated media, a funded user, a small catalog."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import DeforumPreset, RenderModel, VideoJob
from mage_studio.users.models import User
from tests.billing.factories import fund
from tests.factories import auth_headers, create_user
from tests.jobs.factories import create_job, create_model, create_preset
from tests.render.render_factories import (
    set_mp4_rotation,
    truncate,
    write_audio,
    write_gif,
    write_still,
    write_video,
)

STARTING_CREDITS = 1000


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate the upload samples once per run."""
    folder = tmp_path_factory.mktemp("job-media")
    write_video(folder / "clip.mp4", frames=12, audio_codec="aac")
    write_video(folder / "silent.mp4", frames=6)
    write_video(folder / "ntsc.mp4", frames=10, rate=Fraction(24000, 1001))
    set_mp4_rotation(write_video(folder / "rotated.mp4", frames=6), 90)
    write_video(folder / "clip.webm", frames=6, container_format="webm", codec="libvpx")
    truncate(write_video(folder / "truncated.mp4", frames=24), 0.5)
    write_still(folder / "still.png", "PNG")
    write_still(folder / "still.webp", "WEBP")
    write_still(folder / "exif.jpg", "JPEG", exif_orientation=6)
    write_gif(folder / "anim.gif", frames=6)
    write_audio(folder / "tone.wav")
    write_audio(folder / "tone24.wav", codec="pcm_s24le")
    write_audio(folder / "float.wav", codec="pcm_f32le")
    write_audio(folder / "tone.mp3", codec="libmp3lame", container_format="mp3")
    write_audio(folder / "tone.m4a", codec="aac", container_format="mp4")
    (folder / "notes.mp4").write_text("these are not the frames you are looking for\n")
    (folder / "empty.png").write_bytes(b"")
    return folder


@dataclass
class Actor:
    user: User
    headers: dict[str, str]


async def make_actor(
    session: AsyncSession, settings: Settings, *, credits: int = STARTING_CREDITS
) -> Actor:
    user = await create_user(session)
    if credits:
        await fund(session, user, credits=credits)
    await session.commit()
    return Actor(user, auth_headers(settings, user))


@pytest.fixture
async def owner(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings)


@pytest.fixture
async def stranger(session: AsyncSession, settings: Settings) -> Actor:
    return await make_actor(session, settings)


@pytest.fixture
async def job(session: AsyncSession, owner: Actor) -> VideoJob:
    """A pending vid2vid job of `owner` with a probed source."""
    row = await create_job(session, owner.user)
    await session.commit()
    return row


@pytest.fixture
async def model(session: AsyncSession) -> RenderModel:
    row = await create_model(session, credits_per_frame=2)
    await session.commit()
    return row


@pytest.fixture
async def preset(session: AsyncSession) -> DeforumPreset:
    row = await create_preset(
        session,
        slug="zoom-in",
        settings={"zoom": "0:(1.02)", "angle": "0:(0)", "diffusion_cadence": 2},
    )
    await session.commit()
    return row
