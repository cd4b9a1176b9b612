"""Local storage: keys, atomic streaming writes, size limits and signed downloads."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from mage_studio.config import Settings
from mage_studio.core.storage import (
    FileMissing,
    InvalidKey,
    LocalStorage,
    Storage,
    check_key,
    create_storage,
    new_key,
)
from mage_studio.errors import PayloadTooLarge
from tests.conftest import make_settings


@pytest.fixture
def local(tmp_path: Path, database_url: str) -> LocalStorage:
    return LocalStorage(make_settings(database_url, tmp_path / "files"))


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_new_key_is_dated_and_unique() -> None:
    first = new_key("uploads", ".MP4")
    second = new_key("uploads", "mp4")

    assert first != second
    assert first.startswith("uploads/")
    assert first.endswith(".mp4")
    assert check_key(first) == first


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "/abs", "a/../b", ".staging/x", "a//b", "a/.hidden", "", "a b"],
)
def test_check_key_rejects_unsafe(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


def test_create_storage_selects_backend(settings: Settings) -> None:
    assert isinstance(create_storage(settings), LocalStorage)


async def test_save_stream_roundtrip(local: LocalStorage) -> None:
    data = bytes(range(256)) * 50
    key = new_key("tests", "bin")

    size = await local.save_stream(key, chunks_of(data))

    assert size == len(data)
    assert await local.exists(key)
    assert await local.size(key) == len(data)
    assert await local.read(key) == data
    assert files_under(local.staging_dir) == []


async def test_save_stream_over_limit_leaves_nothing(local: LocalStorage) -> None:
    key = new_key("tests", "bin")

    with pytest.raises(PayloadTooLarge) as caught:
        await local.save_stream(key, chunks_of(b"x" * 5001), max_bytes=5000)

    assert caught.value.status_code == 413
    assert not await local.exists(key)
    assert files_under(local.root) == []


async def test_save_stream_failure_midway_leaves_nothing(local: LocalStorage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * 100
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await local.save_stream(new_key("tests", "bin"), broken())

    assert files_under(local.root) == []


async def test_overwrite_replaces_whole_file(local: LocalStorage) -> None:
    key = new_key("tests", "txt")
    await local.save_bytes(key, b"first version, longer")

    await local.save_bytes(key, b"second")

    assert await local.read(key) == b"second"


async def test_save_file_copies_source(local: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    key = new_key("tests", "bin")

    await local.save_file(key, source)

    assert source.read_bytes() == b"payload"
    assert await local.read(key) == b"payload"


async def test_delete_and_missing_file(local: LocalStorage) -> None:
    key = new_key("tests", "bin")
    await local.save_bytes(key, b"data")

    await local.delete(key)
    await local.delete(key)

    assert not await local.exists(key)
    with pytest.raises(FileMissing):
        await local.size(key)
    with pytest.raises(FileMissing):
        await local.read(key)


async def test_local_copy_yields_stored_path(local: LocalStorage) -> None:
    key = new_key("tests", "bin")
    await local.save_bytes(key, b"data")

    async with local.local_copy(key) as path:
        assert path.read_bytes() == b"data"


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _stored(app: FastAPI, data: bytes, extension: str) -> tuple[Storage, str]:
    storage: Storage = app.state.storage
    key = new_key("tests", extension)
    await storage.save_bytes(key, data)
    return storage, key


async def test_signed_url_downloads_file(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, b"\x89PNG fake image bytes", "png")

    url = storage.signed_url(key, 60)
    response = await client.get(_relative(url))

    assert url.startswith("http://testserver/api/files/")
    assert response.status_code == 200
    assert response.content == b"\x89PNG fake image bytes"
    assert response.headers["content-type"] == "image/png"
    assert response.headers["accept-ranges"] == "bytes"


async def test_signed_url_supports_range(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, bytes(range(100)), "mp4")

    response = await client.get(
        _relative(storage.signed_url(key, 60)), headers={"Range": "bytes=10-19"}
    )

    assert response.status_code == 206
    assert response.content == bytes(range(10, 20))
    assert response.headers["content-range"] == "bytes 10-19/100"
    assert response.headers["content-type"] == "video/mp4"


async def test_tampered_signature_rejected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, b"secret", "txt")
    url = storage.signed_url(key, 60)
    query = parse_qs(urlsplit(url).query)
    other_key = new_key("tests", "txt")
    await storage.save_bytes(other_key, b"other")

    wrong_key = await client.get(
        f"/api/files/{other_key}?expires={query['expires'][0]}"
        f"&signature={query['signature'][0]}"
    )
    wrong_signature = await client.get(
        f"/api/files/{key}?expires={query['expires'][0]}&signature={'0' * 64}"
    )

    assert wrong_key.status_code == 403
    assert wrong_signature.status_code == 403
    assert "error" in wrong_signature.json()


async def test_non_ascii_signature_rejected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, b"secret", "txt")
    query = parse_qs(urlsplit(storage.signed_url(key, 60)).query)

    response = await client.get(
        f"/api/files/{key}",
        params={"expires": query["expires"][0], "signature": "\u00e9" * 64},
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == 1008


async def test_expired_link_rejected(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage, key = await _stored(app, b"old", "txt")
    url = storage.signed_url(key, 30)
    later = time.time() + 31
    monkeypatch.setattr(time, "time", lambda: later)

    response = await client.get(_relative(url))

    assert response.status_code == 403


async def test_signed_url_of_deleted_file_is_404(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, b"gone", "txt")
    url = storage.signed_url(key, 60)
    await storage.delete(key)

    response = await client.get(_relative(url))

    assert response.status_code == 404
