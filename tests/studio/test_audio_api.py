"""POST /api/studio/audio: JSON and multipart bodies, soundtracks, validation."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.jobs.models import VideoJob
from tests.render.render_factories import write_audio
from tests.studio.conftest import Actor
from tests.studio.factories import finished_job


def stored_soundtracks(app: FastAPI) -> set[Path]:
    folder = Path(app.state.settings.storage_path) / "soundtracks"
    return {path for path in folder.rglob("*") if path.is_file()}


def write_wav_soundtrack(folder: Path) -> dict[str, tuple[str, bytes, str]]:
    """Write a WAV file into `folder` and return it as the multipart `files`."""
    track = write_audio(folder / "music.wav")
    return {"soundtrack": ("music.wav", track.read_bytes(), "audio/wav")}


async def test_audio_with_uploaded_soundtrack(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    finished: VideoJob,
    tmp_path: Path,
) -> None:
    track = write_audio(
        tmp_path / "music.mp3", codec="libmp3lame", container_format="mp3"
    )

    response = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        data={
            "sourceJobId": str(finished.id),
            "mode": "mix",
            "soundtrackDb": "-6",
            "originalGain": "0.5",
            "fadeOut": "",
        },
        files={"soundtrack": ("music.mp3", track.read_bytes(), "audio/mpeg")},
    )

    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["operation"] == "audio"
    assert data["options"]["mode"] == "mix"
    assert data["options"]["soundtrackDb"] == -6
    assert data["options"]["originalGain"] == 0.5
    assert data["options"]["fadeOut"] == 0
    assert data["urls"]["soundtrack"] is not None
    job = await session.get(VideoJob, data["id"])
    assert job is not None
    assert job.soundtrack_key is not None
    assert job.soundtrack_key.endswith(".mp3")
    assert await app.state.storage.exists(job.soundtrack_key)


async def test_audio_json_reuses_copy_of_job_soundtrack(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    actor: Actor,
    tmp_path: Path,
) -> None:
    source = await finished_job(app, session, actor.user, tmp_path, soundtrack=True)
    await session.commit()

    response = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        json={"sourceJobId": source.id, "mode": "replace", "fit": "loop"},
    )

    assert response.status_code == 201, response.text
    job = await session.get(VideoJob, response.json()["data"]["id"])
    assert job is not None
    assert job.soundtrack_key is not None
    assert job.soundtrack_key != source.soundtrack_key
    storage = app.state.storage
    assert source.soundtrack_key is not None
    assert await storage.read(job.soundtrack_key) == await storage.read(
        source.soundtrack_key
    )


async def test_audio_replace_needs_a_soundtrack(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    response = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        json={"sourceJobId": finished.id, "mode": "replace"},
    )

    assert response.status_code == 422
    assert "soundtrack" in response.json()["error"]["validator"]


async def test_audio_mute_rejects_soundtrack_file(
    app: FastAPI,
    client: httpx.AsyncClient,
    actor: Actor,
    finished: VideoJob,
    tmp_path: Path,
) -> None:
    files = write_wav_soundtrack(tmp_path)
    before = stored_soundtracks(app)

    response = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        data={"sourceJobId": str(finished.id), "mode": "mute"},
        files=files,
    )

    assert response.status_code == 422
    assert "soundtrack" in response.json()["error"]["validator"]
    assert stored_soundtracks(app) == before


async def test_audio_original_mode_json(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    response = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        json={"sourceJobId": finished.id, "mode": "original", "fadeIn": 0.5},
    )

    assert response.status_code == 201, response.text
    assert response.json()["data"]["urls"]["soundtrack"] is None


async def test_audio_rejects_undecodable_soundtrack(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    response = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        data={"sourceJobId": str(finished.id), "mode": "replace"},
        files={"soundtrack": ("music.mp3", b"not audio at all", "audio/mpeg")},
    )

    assert response.status_code == 415


async def test_audio_form_validation_uses_field_names(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    response = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        data={
            "sourceJobId": str(finished.id),
            "mode": "mix",
            "soundtrackGain": "1",
            "soundtrackDb": "-3",
            "fadeIn": "x",
        },
    )

    assert response.status_code == 422
    validator = response.json()["error"]["validator"]
    assert set(validator) == {"soundtrackDb", "fadeIn"}


async def test_audio_soundtrack_as_text_field(
    client: httpx.AsyncClient, actor: Actor, finished: VideoJob
) -> None:
    response = await client.post(
        "/api/studio/audio",
        headers=actor.headers,
        files={
            "sourceJobId": (None, str(finished.id)),
            "soundtrack": (None, "https://example.com/song.mp3"),
        },
    )

    assert response.status_code == 422
    assert response.json()["error"]["validator"] == {
        "soundtrack": ["soundtrack must be a file."]
    }


async def test_audio_invalid_json(client: httpx.AsyncClient, actor: Actor) -> None:
    response = await client.post(
        "/api/studio/audio",
        headers={**actor.headers, "Content-Type": "application/json"},
        content=b"{not json",
    )

    assert response.status_code == 422


async def test_audio_of_another_users_job(
    app: FastAPI,
    client: httpx.AsyncClient,
    stranger: Actor,
    finished: VideoJob,
    tmp_path: Path,
) -> None:
    files = write_wav_soundtrack(tmp_path)
    before = stored_soundtracks(app)

    response = await client.post(
        "/api/studio/audio",
        headers=stranger.headers,
        data={"sourceJobId": str(finished.id), "mode": "replace"},
        files=files,
    )

    assert response.status_code == 404
    assert stored_soundtracks(app) == before  # the stored upload was removed
