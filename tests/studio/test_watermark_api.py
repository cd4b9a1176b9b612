"""/api/studio/watermark: upload (validated by decoding), replace, read, delete."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from PIL import Image

from tests.studio.conftest import Actor
from tests.studio.factories import write_png


def stored_watermarks(app: FastAPI) -> set[Path]:
    folder = Path(app.state.settings.storage_path) / "watermarks"
    return set(folder.rglob("*.png"))


async def post_watermark(
    client: httpx.AsyncClient, actor: Actor, name: str, content: bytes
) -> httpx.Response:
    return await client.post(
        "/api/studio/watermark",
        headers=actor.headers,
        files={"watermark": (name, content, "image/png")},
    )


async def test_upload_read_and_delete(
    app: FastAPI, client: httpx.AsyncClient, actor: Actor, tmp_path: Path
) -> None:
    logo = write_png(tmp_path / "logo.png", 40, 20)

    created = await post_watermark(client, actor, "logo.png", logo.read_bytes())
    read = await client.get("/api/studio/watermark", headers=actor.headers)
    download = await client.get(read.json()["data"]["url"])
    deleted = await client.delete("/api/studio/watermark", headers=actor.headers)
    after_delete = await client.get("/api/studio/watermark", headers=actor.headers)

    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert (data["width"], data["height"]) == (40, 20)
    assert data["has_alpha"] is True
    assert data["size"] == logo.stat().st_size
    assert read.status_code == 200
    assert read.json()["data"]["width"] == 40
    assert download.status_code == 200
    assert download.content == logo.read_bytes()
    assert deleted.status_code == 204
    assert after_delete.status_code == 404


async def test_upload_replaces_and_removes_old_file(
    app: FastAPI, client: httpx.AsyncClient, actor: Actor, tmp_path: Path
) -> None:
    first = write_png(tmp_path / "first.png", 40, 20)
    second = write_png(tmp_path / "second.png", 64, 64)
    before = stored_watermarks(app)

    await post_watermark(client, actor, "first.png", first.read_bytes())
    response = await post_watermark(client, actor, "second.png", second.read_bytes())

    assert response.status_code == 201
    assert response.json()["data"]["width"] == 64
    added = stored_watermarks(app) - before
    assert len(added) == 1
    assert added.pop().read_bytes() == second.read_bytes()


async def test_upload_rejects_jpeg(
    client: httpx.AsyncClient, actor: Actor, tmp_path: Path
) -> None:
    path = tmp_path / "logo.jpg"
    Image.new("RGB", (32, 32)).save(path, format="JPEG")

    response = await post_watermark(client, actor, "logo.png", path.read_bytes())

    assert response.status_code == 415


async def test_upload_rejects_damaged_png(
    client: httpx.AsyncClient, actor: Actor, tmp_path: Path
) -> None:
    noisy = tmp_path / "noisy.png"
    Image.effect_noise((300, 300), 80).save(noisy, format="PNG")
    damaged = noisy.read_bytes()[: noisy.stat().st_size // 2]

    response = await post_watermark(client, actor, "logo.png", damaged)

    assert response.status_code == 422
    assert "watermark" in response.json()["error"]["validator"]


async def test_upload_rejects_tiny_png(
    client: httpx.AsyncClient, actor: Actor, tmp_path: Path
) -> None:
    tiny = write_png(tmp_path / "tiny.png", 4, 4)

    response = await post_watermark(client, actor, "tiny.png", tiny.read_bytes())

    assert response.status_code == 422


async def test_upload_requires_file(client: httpx.AsyncClient, actor: Actor) -> None:
    response = await client.post(
        "/api/studio/watermark",
        headers=actor.headers,
        files={"other": ("x.png", b"x", "image/png")},
    )

    assert response.status_code == 422
    assert response.json()["error"]["validator"] == {
        "watermark": ["This field is required."]
    }


async def test_upload_over_limit(
    app: FastAPI, client: httpx.AsyncClient, actor: Actor, tmp_path: Path
) -> None:
    app.state.settings.studio_watermark_max_bytes = 100
    logo = write_png(tmp_path / "logo.png", 200, 200)
    Image.effect_noise((200, 200), 80).save(logo, format="PNG")

    response = await post_watermark(client, actor, "logo.png", logo.read_bytes())

    assert response.status_code == 413


async def test_watermarks_are_per_user(
    client: httpx.AsyncClient, actor: Actor, stranger: Actor, tmp_path: Path
) -> None:
    logo = write_png(tmp_path / "logo.png")
    await post_watermark(client, actor, "logo.png", logo.read_bytes())

    response = await client.get("/api/studio/watermark", headers=stranger.headers)
    deleted = await client.delete("/api/studio/watermark", headers=stranger.headers)

    assert response.status_code == 404
    assert deleted.status_code == 404
