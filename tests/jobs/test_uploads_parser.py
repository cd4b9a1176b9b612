"""The streaming multipart parser: bounded memory, limits and clean failures."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mage_studio.config import Settings
from mage_studio.core.storage import LocalStorage
from mage_studio.errors import BadRequest, PayloadTooLarge
from mage_studio.jobs.uploads import MAX_PARTS, clean_filename, read_multipart
from tests.conftest import make_settings
from tests.jobs.conftest import Actor
from tests.jobs.factories import stored_files

BOUNDARY = "test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
    return head + data + b"\r\n"


def closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


async def stream_of(*pieces: bytes, size: int = 7) -> AsyncIterator[bytes]:
    body = b"".join(pieces)
    for start in range(0, len(body), size):
        yield body[start : start + size]


def staged_files(storage: LocalStorage) -> list[Path]:
    folder = storage.staging_dir
    return list(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def storage(tmp_path: Path, database_url: str) -> LocalStorage:
    return LocalStorage(make_settings(database_url, tmp_path / "files"))


async def test_parser_stages_files_and_keeps_fields(storage: LocalStorage) -> None:
    body = stream_of(
        part("type", b"deforum"),
        part("attachment", b"\x00\x01" * 500, filename="C:\\Users\\me\\clip.mp4"),
        part("ignored", b"skip me", filename="other.bin"),
        closing(),
    )

    form = await read_multipart(
        CONTENT_TYPE, body, storage, file_limits={"attachment": 2000}
    )

    assert form.fields == {"type": "deforum"}
    assert set(form.files) == {"attachment"}
    upload = form.files["attachment"]
    assert upload.filename == "clip.mp4"
    assert upload.staged.path.read_bytes() == b"\x00\x01" * 500
    form.discard()
    assert not upload.staged.path.exists()


async def test_parser_file_over_limit(storage: LocalStorage) -> None:
    body = stream_of(part("attachment", b"x" * 3000, filename="a.mp4"), closing())

    with pytest.raises(PayloadTooLarge):
        await read_multipart(
            CONTENT_TYPE, body, storage, file_limits={"attachment": 100}
        )

    assert staged_files(storage) == []


@pytest.mark.parametrize(
    "pieces",
    [
        (part("attachment", b"a", "a.mp4"), part("attachment", b"b", "b.mp4")),
        tuple(part(f"f{index}", b"v") for index in range(MAX_PARTS + 1)),
        (b"--" + BOUNDARY.encode() + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n",),
        (part("attachment", b"never closed", "a.mp4")[:-2],),
    ],
)
async def test_parser_rejects_malformed_forms(
    storage: LocalStorage, pieces: tuple[bytes, ...]
) -> None:
    trailer = () if pieces[-1].endswith(b"closed") else (closing(),)
    with pytest.raises(BadRequest):
        await read_multipart(
            CONTENT_TYPE,
            stream_of(*pieces, *trailer),
            storage,
            file_limits={"attachment": 1000},
        )

    assert staged_files(storage) == []


async def test_parser_text_field_limit(storage: LocalStorage) -> None:
    body = stream_of(part("type", b"v" * 70_000), closing(), size=4096)

    with pytest.raises(PayloadTooLarge):
        await read_multipart(CONTENT_TYPE, body, storage, file_limits={})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\temp\\clip.mov", "clip.mov"),
        ("bad\x00name\n.mp4", "badname.mp4"),
        ("", "upload"),
        pytest.param("x" * 300 + ".mp4", "x" * 251 + ".mp4", id="long-keeps-extension"),
        pytest.param("x" * 300, "x" * 255, id="long-without-extension"),
        pytest.param(
            "x" * 300 + "." + "y" * 20,
            ("x" * 300 + "." + "y" * 20)[:255],
            id="long-with-overlong-extension",
        ),
        pytest.param(
            "x" * 250 + " " * 10 + ".mp4", "x" * 250 + ".mp4", id="long-trailing-space"
        ),
    ],
)
def test_clean_filename(raw: str, expected: str) -> None:
    assert clean_filename(raw) == expected


async def test_upload_memory_stays_flat(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, owner: Actor
) -> None:
    total = 48 * 1024 * 1024
    chunk = b"\0" * (256 * 1024)

    async def body() -> AsyncIterator[bytes]:
        yield part("type", b"vid2vid")
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachment"; '
            'filename="big.mp4"\r\n\r\n'
        ).encode()
        for _ in range(total // len(chunk)):
            yield chunk
        yield b"\r\n" + closing()

    before = stored_files(settings)
    tracemalloc.start()
    try:
        response = await client.post(
            "/api/upload",
            headers={**owner.headers, "Content-Type": CONTENT_TYPE},
            content=body(),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # The body is 48 MiB; a parser that buffered it would peak far above this.
    assert peak < 8 * 1024 * 1024
    assert response.status_code == 415
    assert stored_files(settings) == before
