"""S3 storage against an S3-compatible server (moto) listening on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from mage_studio.core.storage import FileMissing, S3Storage, create_storage, new_key
from mage_studio.errors import PayloadTooLarge
from tests.conftest import make_settings

BUCKET = "mage-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    port = _free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(
    s3_endpoint: str,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> S3Storage:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = make_settings(
        database_url,
        tmp_path / "files",
        s3_bucket=BUCKET,
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
    )
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    existing = [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]
    if BUCKET not in existing:
        client.create_bucket(Bucket=BUCKET)
    storage = create_storage(settings)
    assert isinstance(storage, S3Storage)
    return storage


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_s3_roundtrip(s3: S3Storage) -> None:
    data = bytes(range(256)) * 40
    key = new_key("tests", "mp4")

    await s3.save_stream(key, chunks_of(data))

    assert await s3.exists(key)
    assert await s3.size(key) == len(data)
    assert await s3.read(key) == data
    async with s3.local_copy(key) as path:
        assert path.read_bytes() == data
    assert list(s3.staging_dir.iterdir()) == []


async def test_s3_presigned_url_downloads(s3: S3Storage) -> None:
    key = new_key("tests", "png")
    await s3.save_bytes(key, b"\x89PNG image", content_type="image/png")

    url = s3.signed_url(key, 60)
    async with httpx.AsyncClient() as http:
        response = await http.get(url)

    assert "Signature" in url
    assert response.status_code == 200
    assert response.content == b"\x89PNG image"
    assert response.headers["content-type"] == "image/png"


async def test_s3_over_limit_uploads_nothing(s3: S3Storage) -> None:
    key = new_key("tests", "bin")

    with pytest.raises(PayloadTooLarge):
        await s3.save_stream(key, chunks_of(b"x" * 5000), max_bytes=4000)

    assert not await s3.exists(key)
    assert list(s3.staging_dir.iterdir()) == []


async def test_s3_delete_and_missing(s3: S3Storage) -> None:
    key = new_key("tests", "bin")
    await s3.save_bytes(key, b"data")

    await s3.delete(key)
    await s3.delete(key)

    assert not await s3.exists(key)
    with pytest.raises(FileMissing):
        await s3.size(key)
    with pytest.raises(FileMissing):
        await s3.read(key)
