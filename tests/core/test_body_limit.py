"""The size limit on request bodies that are not multipart uploads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mage_studio.config import Settings
from mage_studio.core.body_limit import _declared_length
from mage_studio.users.models import User
from tests.factories import auth_headers

OVER_DEFAULT_LIMIT = 3 * 1024 * 1024


def _assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == 413
    assert str(limit) in error["message"]


def _padded_generate_body(size: int) -> bytes:
    prefix = b'{"videoId": 1, "type": "deforum", "prompt": "'
    suffix = b'"}'
    return prefix + b"a" * (size - len(prefix) - len(suffix)) + suffix


async def _chunks(body: bytes, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), chunk_size):
        yield body[start : start + chunk_size]


async def test_declared_length_over_limit_is_413(
    client: httpx.AsyncClient, settings: Settings, user: User
) -> None:
    response = await client.post(
        "/api/generate",
        content=_padded_generate_body(OVER_DEFAULT_LIMIT),
        headers={**auth_headers(settings, user), "Content-Type": "application/json"},
    )
    _assert_too_large(response, settings.request_body_max_bytes)


async def test_declared_length_checked_before_auth(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/generate",
        content=_padded_generate_body(OVER_DEFAULT_LIMIT),
        headers={"Content-Type": "application/json"},
    )
    _assert_too_large(response, settings.request_body_max_bytes)


async def test_chunked_body_over_limit_is_413(
    client: httpx.AsyncClient, settings: Settings, user: User
) -> None:
    response = await client.post(
        "/api/generate",
        content=_chunks(_padded_generate_body(OVER_DEFAULT_LIMIT)),
        headers={**auth_headers(settings, user), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    _assert_too_large(response, settings.request_body_max_bytes)


async def test_chunked_body_under_limit_is_read(
    client: httpx.AsyncClient, settings: Settings, user: User
) -> None:
    response = await client.post(
        "/api/generate",
        content=_chunks(_padded_generate_body(100 * 1024), chunk_size=4096),
        headers={**auth_headers(settings, user), "Content-Type": "application/json"},
    )
    # The body is parsed: job 1 is not the caller's, so the route returns 404.
    assert response.status_code == 404


async def test_deforum_settings_samples_fit(
    client: httpx.AsyncClient, settings: Settings, user: User, samples_dir: Path
) -> None:
    for sample in sorted((samples_dir / "deforum").glob("*.txt")):
        body = json.dumps(
            {"videoId": 1, "type": "deforum", "settings": sample.read_text()}
        ).encode()
        assert len(body) * 4 < settings.request_body_max_bytes, sample.name
        response = await client.post(
            "/api/generate",
            content=body,
            headers={
                **auth_headers(settings, user),
                "Content-Type": "application/json",
            },
        )
        assert response.status_code != 413, sample.name


async def test_multipart_upload_is_exempt(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/api/upload",
        files={"attachment": ("big.mp4", b"\0" * OVER_DEFAULT_LIMIT, "video/mp4")},
        data={"type": "vid2vid"},
    )
    # Unauthenticated: the upload reaches the route instead of the body limit.
    assert response.status_code == 401


async def test_worker_api_is_exempt(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/api/workers/claim",
        content=b'{"queues": ["' + b"a" * OVER_DEFAULT_LIMIT + b'"]}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("header", "expected"),
    [(b"12", 12), (b" 7 ", 7), (b"\xb2", None), (b"1e3", None), (b"-1", None)],
)
def test_declared_length_reads_ascii_digits(
    header: bytes, expected: int | None
) -> None:
    scope = {"type": "http", "headers": [(b"content-length", header)]}

    assert _declared_length(scope) == expected
