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


async def test_signed_url_suffix_and_open_ranges(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, bytes(range(100)), "mp4")
    url = _relative(storage.signed_url(key, 60))

    suffix = await client.get(url, headers={"Range": "bytes=-10"})
    open_ended = await client.get(url, headers={"Range": "bytes=95-"})
    past_end = await client.get(url, headers={"Range": "bytes=90-500"})

    assert suffix.status_code == 206
    assert suffix.content == bytes(range(90, 100))
    assert suffix.headers["content-range"] == "bytes 90-99/100"
    assert open_ended.status_code == 206
    assert open_ended.content == bytes(range(95, 100))
    assert open_ended.headers["content-range"] == "bytes 95-99/100"
    assert past_end.status_code == 206
    assert past_end.content == bytes(range(90, 100))
    assert past_end.headers["content-length"] == "10"


async def test_signed_url_multiple_ranges(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, bytes(range(100)), "mp4")
    url = _relative(storage.signed_url(key, 60))

    several = await client.get(url, headers={"Range": "bytes=0-1, 50-51"})
    one_satisfiable = await client.get(url, headers={"Range": "bytes=500-600, 50-51"})

    assert several.status_code == 200
    assert several.content == bytes(range(100))
    assert several.headers["content-type"] == "video/mp4"
    assert "content-range" not in several.headers
    assert one_satisfiable.status_code == 206
    assert one_satisfiable.content == bytes(range(50, 52))
    assert one_satisfiable.headers["content-range"] == "bytes 50-51/100"


@pytest.mark.parametrize(
    "header",
    ["bytes=5-1", "bytes=x", "bytes=", "bytes=1-2-3", "items=0-5", "bytes=0-1,y"],
)
async def test_signed_url_ignores_invalid_range(
    app: FastAPI, client: httpx.AsyncClient, header: str
) -> None:
    storage, key = await _stored(app, bytes(range(100)), "mp4")

    response = await client.get(
        _relative(storage.signed_url(key, 60)), headers={"Range": header}
    )

    assert response.status_code == 200
    assert response.content == bytes(range(100))
    assert "content-range" not in response.headers


@pytest.mark.parametrize(
    "header", ["bytes=999999999-", "bytes=100-", "bytes=100-200, 300-", "bytes=-0"]
)
async def test_signed_url_unsatisfiable_range_is_416(
    app: FastAPI, client: httpx.AsyncClient, header: str
) -> None:
    storage, key = await _stored(app, bytes(range(100)), "mp4")

    response = await client.get(
        _relative(storage.signed_url(key, 60)), headers={"Range": header}
    )

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */100"
    assert response.json()["error"]["code"] == 416
    assert "100 bytes" in response.json()["error"]["message"]


async def test_signed_url_huge_range_offset_is_416(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, bytes(range(100)), "mp4")

    response = await client.get(
        _relative(storage.signed_url(key, 60)),
        headers={"Range": "bytes=" + "9" * 5000 + "-"},
    )

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */100"


async def test_signed_url_stale_if_range_sends_whole_file(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, bytes(range(100)), "mp4")

    response = await client.get(
        _relative(storage.signed_url(key, 60)),
        headers={"Range": "bytes=500-", "If-Range": '"stale-etag"'},
    )

    assert response.status_code == 200
    assert response.content == bytes(range(100))


async def test_signed_url_head_matches_get(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, bytes(range(100)), "mp4")
    url = _relative(storage.signed_url(key, 60))

    get = await client.get(url)
    head = await client.head(url)
    ranged_head = await client.head(url, headers={"Range": "bytes=10-19"})

    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified"):
        assert head.headers[name] == get.headers[name], name
    assert head.headers["accept-ranges"] == "bytes"
    assert ranged_head.status_code == 206
    assert ranged_head.content == b""
    assert ranged_head.headers["content-range"] == "bytes 10-19/100"
    assert ranged_head.headers["content-length"] == "10"


async def test_signed_url_head_checks_signature(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    storage, key = await _stored(app, b"secret", "txt")
    query = parse_qs(urlsplit(storage.signed_url(key, 60)).query)

    response = await client.head(
        f"/api/files/{key}?expires={query['expires'][0]}&signature={'0' * 64}"
    )

    assert response.status_code == 403
