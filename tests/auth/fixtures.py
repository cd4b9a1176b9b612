"""Fixtures of the account tests: real SMTP, a fake OAuth provider, Redis.

Imported by the conftest of each test package that uses them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from mage_studio.auth import passwords
from mage_studio.config import Settings
from tests.auth.oauth_provider import FakeProvider
from tests.auth.smtp import ReceivedMail, SmtpServer
from tests.conftest import make_settings

TEST_REDIS_URL = os.environ.get("MAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
# A bound on waiting for queued deliveries; generous, because a loaded machine can take
# seconds per SMTP exchange.
DELIVERY_TIMEOUT = 60.0


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash with argon2id at minimal cost: the tests hash hundreds of passwords."""
    hasher = PasswordHash(
        (Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1), BcryptHasher())
    )
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("dummy password"))


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oauth_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def settings(
    database_url: str, storage_root: Path, smtp_server: SmtpServer, tmp_path: Path
) -> Settings:
    """Test settings that deliver mail to the local SMTP server."""
    smtp_server.clear()
    return make_settings(
        database_url,
        storage_root,
        smtp_url=smtp_server.url,
        log_path=tmp_path / "log",
    )


class Mailbox:
    """The mail the app sent during one test, read after delivery finished."""

    def __init__(self, app: FastAPI, server: SmtpServer) -> None:
        self._app = app
        self._server = server

    async def all(self) -> list[ReceivedMail]:
        await self._app.state.mail.drain(timeout=DELIVERY_TIMEOUT)
        return self._server.messages

    async def to(self, address: str) -> list[ReceivedMail]:
        await self._app.state.mail.drain(timeout=DELIVERY_TIMEOUT)
        return self._server.to(address)

    async def last(self, address: str) -> ReceivedMail:
        mails = await self.to(address)
        assert mails, f"no mail to {address}"
        return mails[-1]


@pytest.fixture
def mailbox(app: FastAPI, smtp_server: SmtpServer) -> Mailbox:
    return Mailbox(app, smtp_server)


async def redis_or_skip(url: str) -> None:
    """Empty the test Redis database, or skip (fail in CI) when it is down."""
    client = redis.Redis.from_url(url)
    try:
        await asyncio.wait_for(client.flushdb(), timeout=3)
    except (OSError, TimeoutError, redis.RedisError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {url} unreachable: {exc}")
        pytest.skip(f"Redis at {url} unreachable: {exc}")
    finally:
        await client.aclose()  # type: ignore[attr-defined]


@pytest.fixture
async def redis_url() -> str:
    await redis_or_skip(TEST_REDIS_URL)
    return TEST_REDIS_URL


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
