"""POST /api/upload: streaming, decoding checks, limits, no files left on rejection."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import VideoJob
from tests.jobs.conftest import Actor
from tests.jobs.factories import stored_files, upload_file


async def job_row(session: AsyncSession, job_id: int) -> VideoJob:
    job = await session.get(VideoJob, job_id, populate_existing=True)
    assert job is not None
    return job


async def job_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(VideoJob)) or 0)


async def test_upload_mp4_with_audio(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, media: Path
) -> None:
    response = await upload_file(
        client, owner.headers, media / "clip.mp4", filename="../../My Clip.mp4"
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["url"].startswith("http://testserver/api/files/uploads/")
    job = await job_row(session, body["id"])
    assert job.user_id == owner.user.id
    assert job.status == "pending"
    assert job.generator == "vid2vid"
    assert job.source_kind == "video"
    assert (job.source_width, job.source_height) == (64, 48)
    assert (job.source_fps_num, job.source_fps_den) == (24, 1)
    assert job.source_frame_count == 12
    assert job.source_duration == pytest.approx(0.5)
    assert job.has_audio is True
    assert job.audio_codec == "aac"
    assert job.codec == "h264"
    assert job.mimetype == "video/mp4"
    assert job.original_filename == "My Clip.mp4"
    assert job.source_key is not None
    assert "My Clip" not in job.source_key
    assert job.size == (media / "clip.mp4").stat().st_size


async def test_upload_file_downloads_from_url(
    client: httpx.AsyncClient, owner: Actor, media: Path
) -> None:
    response = await upload_file(client, owner.headers, media / "clip.mp4")

    download = await client.get(response.json()["url"])

    assert download.status_code == 200
    assert download.content == (media / "clip.mp4").read_bytes()
    assert download.headers["content-type"] == "video/mp4"


async def test_upload_keeps_ntsc_rate_exact(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, media: Path
) -> None:
    response = await upload_file(client, owner.headers, media / "ntsc.mp4")

    job = await job_row(session, response.json()["id"])

    assert (job.source_fps_num, job.source_fps_den) == (24000, 1001)
    assert job.has_audio is False


async def test_upload_rotated_clip_reports_display_size(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, media: Path
) -> None:
    response = await upload_file(client, owner.headers, media / "rotated.mp4")

    job = await job_row(session, response.json()["id"])

    assert (job.source_width, job.source_height) == (48, 64)
    assert job.source_rotation == 90


@pytest.mark.parametrize(
    ("name", "kind", "mimetype", "size"),
    [
        ("still.png", "image", "image/png", (40, 30)),
        ("still.webp", "image", "image/webp", (40, 30)),
        ("exif.jpg", "image", "image/jpeg", (30, 40)),
        ("anim.gif", "gif", "image/gif", (31, 21)),
        ("clip.webm", "video", "video/webm", (64, 48)),
    ],
)
async def test_upload_accepts_images_and_gif(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    media: Path,
    name: str,
    kind: str,
    mimetype: str,
    size: tuple[int, int],
) -> None:
    response = await upload_file(client, owner.headers, media / name, kind="deforum")

    assert response.status_code == 200, response.text
    job = await job_row(session, response.json()["id"])
    assert job.source_kind == kind
    assert job.mimetype == mimetype
    assert (job.source_width, job.source_height) == size
    assert job.generator == "deforum"


async def test_upload_gif_counts_frames(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, media: Path
) -> None:
    response = await upload_file(client, owner.headers, media / "anim.gif")

    job = await job_row(session, response.json()["id"])

    assert job.source_frame_count == 6
    assert job.source_fps_num is not None


@pytest.mark.parametrize(
    "soundtrack", ["tone.wav", "tone24.wav", "float.wav", "tone.mp3", "tone.m4a"]
)
async def test_upload_with_soundtrack(
    client: httpx.AsyncClient,
    session: AsyncSession,
    owner: Actor,
    media: Path,
    soundtrack: str,
) -> None:
    response = await upload_file(
        client, owner.headers, media / "silent.mp4", soundtrack=media / soundtrack
    )

    assert response.status_code == 200, response.text
    job = await job_row(session, response.json()["id"])
    assert job.soundtrack_key is not None
    assert job.soundtrack_key.startswith("soundtracks/")


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("notes.mp4", 415),
        ("truncated.mp4", 422),
        ("empty.png", 415),
        ("tone.wav", 415),
    ],
)
async def test_upload_rejects_bad_media_and_stores_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    media: Path,
    name: str,
    status: int,
) -> None:
    before = stored_files(settings)

    response = await upload_file(client, owner.headers, media / name)

    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert stored_files(settings) == before
    assert await job_count(session) == 0


async def test_upload_rejects_bad_soundtrack_and_stores_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    media: Path,
) -> None:
    before = stored_files(settings)

    response = await upload_file(
        client, owner.headers, media / "clip.mp4", soundtrack=media / "notes.mp4"
    )

    assert response.status_code == 415
    assert "soundtrack" in response.json()["error"]["message"]
    assert stored_files(settings) == before
    assert await job_count(session) == 0


async def test_upload_over_limit_is_413(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    media: Path,
) -> None:
    app.state.settings = settings.model_copy(update={"upload_max_bytes": 2000})
    before = stored_files(settings)

    response = await upload_file(client, owner.headers, media / "clip.mp4")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert stored_files(settings) == before
    assert await job_count(session) == 0


async def test_soundtrack_over_limit_is_413(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    owner: Actor,
    media: Path,
) -> None:
    app.state.settings = settings.model_copy(update={"soundtrack_max_bytes": 1000})
    before = stored_files(settings)

    response = await upload_file(
        client, owner.headers, media / "clip.mp4", soundtrack=media / "tone.wav"
    )

    assert response.status_code == 413
    assert stored_files(settings) == before


async def test_upload_streamed_body_over_limit_stops_early(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    owner: Actor,
) -> None:
    app.state.settings = settings.model_copy(update={"upload_max_bytes": 1 << 20})
    boundary = "bound4ry"
    sent = 0

    async def body() -> object:
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\n'
            f"vid2vid\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f'name="attachment"; filename="big.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        for _ in range(64):
            sent += 1
            yield b"\0" * (256 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    before = stored_files(settings)
    response = await client.post(
        "/api/upload",
        headers={
            **owner.headers,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=body(),
    )

    assert response.status_code == 413
    assert sent < 64
    assert stored_files(settings) == before


@pytest.mark.parametrize(
    ("data", "field"),
    [({"type": "vid2vid"}, "attachment"), ({}, "type"), ({"type": "x"}, "type")],
)
async def test_upload_validates_fields(
    client: httpx.AsyncClient,
    owner: Actor,
    media: Path,
    data: dict[str, str],
    field: str,
) -> None:
    files: dict[str, tuple[str | None, bytes | str]] = {
        name: (None, value) for name, value in data.items()
    }
    if field != "attachment":
        files["attachment"] = ("clip.mp4", (media / "clip.mp4").read_bytes())
    response = await client.post("/api/upload", headers=owner.headers, files=files)

    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["validator"]


async def test_upload_requires_multipart(
    client: httpx.AsyncClient, owner: Actor
) -> None:
    response = await client.post("/api/upload", headers=owner.headers, json={"a": 1})

    assert response.status_code == 415


async def test_upload_malformed_multipart_is_400(
    client: httpx.AsyncClient, settings: Settings, owner: Actor
) -> None:
    before = stored_files(settings)
    response = await client.post(
        "/api/upload",
        headers={**owner.headers, "Content-Type": "multipart/form-data; boundary=xx"},
        content=b'--xx\r\nContent-Disposition: form-data; name="attachment"; '
        b'filename="a.mp4"\r\n\r\npartial data without an end',
    )

    assert response.status_code == 400
    assert stored_files(settings) == before


async def test_upload_long_filename_keeps_extension(
    client: httpx.AsyncClient, session: AsyncSession, owner: Actor, media: Path
) -> None:
    response = await upload_file(
        client, owner.headers, media / "clip.mp4", filename="a" * 5000 + ".mp4"
    )

    assert response.status_code == 200, response.text
    job = await job_row(session, response.json()["id"])
    assert job.original_filename == "a" * 251 + ".mp4"


async def test_upload_oversized_part_header_is_400(
    client: httpx.AsyncClient, settings: Settings, owner: Actor, media: Path
) -> None:
    before = stored_files(settings)

    response = await upload_file(
        client, owner.headers, media / "clip.mp4", filename="a" * 20_000 + ".mp4"
    )

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "longer than 16384 bytes" in message
    assert "file name" in message
    assert stored_files(settings) == before


async def test_upload_requires_authentication(
    client: httpx.AsyncClient, media: Path
) -> None:
    response = await upload_file(client, {}, media / "clip.mp4")

    assert response.status_code == 401


async def test_upload_served_at_root_path(
    client: httpx.AsyncClient, owner: Actor, media: Path
) -> None:
    response = await upload_file(
        client, owner.headers, media / "still.png", route="/upload"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "pending"


async def test_upload_rate_limited_per_user(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    owner: Actor,
    media: Path,
) -> None:
    app.state.settings = settings.model_copy(
        update={"rate_limit_upload_per_minute": 2, "rate_limit_enabled": True}
    )

    statuses = [
        (await upload_file(client, owner.headers, media / "still.png")).status_code
        for _ in range(2)
    ]
    limited = await upload_file(client, owner.headers, media / "still.png")

    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


async def test_upload_client_disconnect_is_400(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    owner: Actor,
    media: Path,
) -> None:
    # httpx's ASGI transport cannot disconnect mid-body, so the app is called
    # directly with a body that stops halfway through the file part.
    boundary = "bound4ry"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\n'
        f"vid2vid\r\n--{boundary}\r\nContent-Disposition: form-data; "
        f'name="attachment"; filename="clip.mp4"\r\n\r\n'
    ).encode()
    clip = (media / "clip.mp4").read_bytes()
    messages = [
        {"type": "http.request", "body": head + clip[:1000], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    headers = [
        (b"host", b"testserver"),
        (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
        *(
            (name.lower().encode(), value.encode())
            for name, value in owner.headers.items()
        ),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/upload",
        "raw_path": b"/api/upload",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    before = stored_files(settings)

    await app(scope, receive, send)

    start = next(
        message for message in sent if message["type"] == "http.response.start"
    )
    assert start["status"] == 400
    assert stored_files(settings) == before
    assert await job_count(session) == 0
