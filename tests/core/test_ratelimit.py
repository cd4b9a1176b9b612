"""Rate limits: the sliding window, the general /api limit and the strict ones."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.config import Settings
from mage_studio.core.ratelimit import MemoryRateLimiter, RateLimit
from tests.auth.fixtures import client_for, redis_or_skip
from tests.conftest import make_settings
from tests.factories import auth_headers, create_user

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(autouse=True)
def _migrated_first(database_url: str) -> None:
    """Create the database before any test of this module starts an event loop.

    The migration runs in `asyncio.run`, which clears the current loop when it
    ends; a loop already started by an earlier test would be lost.
    """


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_window_fills_and_slides() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    rule = RateLimit("test", 3, 60.0)

    for remaining in (2, 1, 0):
        decision = await limiter.hit(rule, "k")
        assert decision.allowed
        assert decision.remaining == remaining
        clock.now += 10
    denied = await limiter.hit(rule, "k")

    assert not denied.allowed
    # The first hit (t=1000) leaves the window at t=1060; now is 1030.
    assert denied.retry_after == pytest.approx(30.0)
    clock.now = 1060.0
    assert (await limiter.hit(rule, "k")).allowed
    assert not (await limiter.hit(rule, "k")).allowed


async def test_keys_and_rules_are_separate() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    rule = RateLimit("a", 1, 60.0)
    assert (await limiter.hit(rule, "one")).allowed
    assert (await limiter.hit(rule, "two")).allowed
    assert (await limiter.hit(RateLimit("b", 1, 60.0), "one")).allowed
    assert not (await limiter.hit(rule, "one")).allowed


@pytest.fixture
def limited(database_url: str, storage_root: Path, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        storage_root,
        log_path=tmp_path / "log",
        rate_limit_per_minute=3,
        rate_limit_auth_per_minute=2,
        rate_limit_mail_per_hour=1,
    )


async def _app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def limited_app(limited: Settings, app: FastAPI) -> AsyncIterator[FastAPI]:
    # Depending on `app` empties the tables after the test.
    application = create_app(limited)
    yield application
    await application.state.database.dispose()


def _assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json() == {
        "error": {"message": "Too many requests. Try again later.", "code": 429}
    }


async def test_general_limit_per_ip(limited_app: FastAPI) -> None:
    async with client_for(limited_app) as client:
        statuses = [(await client.get("/api/auth/me")).status_code for _ in range(3)]
        blocked = await client.get(
            "/api/auth/me", headers={"Origin": "http://localhost:3000"}
        )
        health = await client.get("/health")

    assert statuses == [401, 401, 401]
    _assert_429(blocked)
    assert blocked.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert blocked.headers["x-request-id"]
    assert health.status_code == 200


async def test_general_limit_per_user(
    limited_app: FastAPI, limited: Settings, session: AsyncSession
) -> None:
    alice = await create_user(session)
    bob = await create_user(session)
    await session.commit()

    async with client_for(limited_app) as client:
        for _ in range(3):
            assert (
                await client.get("/api/auth/me", headers=auth_headers(limited, alice))
            ).status_code == 200
        alice_blocked = await client.get(
            "/api/auth/me", headers=auth_headers(limited, alice)
        )
        bob_ok = await client.get("/api/auth/me", headers=auth_headers(limited, bob))
        anonymous = await client.get("/api/auth/me")

    _assert_429(alice_blocked)
    assert bob_ok.status_code == 200
    assert anonymous.status_code == 401


async def test_worker_routes_are_exempt(limited_app: FastAPI) -> None:
    async with client_for(limited_app) as client:
        statuses = {
            (await client.get("/api/workers/no-such-route")).status_code
            for _ in range(5)
        }
    assert 429 not in statuses


async def test_limits_can_be_disabled(limited: Settings, app: FastAPI) -> None:
    application = create_app(limited.model_copy(update={"rate_limit_enabled": False}))
    try:
        async with client_for(application) as client:
            statuses = {
                (await client.get("/api/auth/me")).status_code for _ in range(6)
            }
            logins = {
                (
                    await client.post(
                        "/api/auth/login",
                        json={"email": "a@example.com", "password": "whatever1"},
                    )
                ).status_code
                for _ in range(4)
            }
    finally:
        await application.state.database.dispose()
    assert statuses == {401}
    assert logins == {401}


async def test_login_limit_counts_failures(
    database_url: str, storage_root: Path, tmp_path: Path, app: FastAPI
) -> None:
    settings = make_settings(
        database_url,
        storage_root,
        log_path=tmp_path / "log",
        rate_limit_auth_per_minute=2,
    )
    application = create_app(settings)
    body = {"email": "target@example.com", "password": "guess-number"}
    try:
        async with client_for(application) as client:
            first = [
                (await client.post("/api/auth/login", json=body)).status_code
                for _ in range(2)
            ]
            third = await client.post("/api/auth/login", json=body)
    finally:
        await application.state.database.dispose()
    assert first == [401, 401]
    _assert_429(third)


async def test_forgot_password_limit_per_email(
    database_url: str, storage_root: Path, tmp_path: Path, app: FastAPI
) -> None:
    settings = make_settings(
        database_url,
        storage_root,
        log_path=tmp_path / "log",
        rate_limit_mail_per_hour=1,
    )
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            first = await client.post(
                "/api/auth/forgot-password", json={"email": "a@example.com"}
            )
            again = await client.post(
                "/api/auth/forgot-password", json={"email": "A@example.com "}
            )
            other = await client.post(
                "/api/auth/forgot-password", json={"email": "b@example.com"}
            )
    finally:
        await application.state.database.dispose()
    assert first.status_code == 204
    _assert_429(again)
    assert int(again.headers["Retry-After"]) > 60
    assert other.status_code == 204


async def _redis_apps(
    database_url: str, storage_root: Path, tmp_path: Path, **overrides: Any
) -> list[FastAPI]:
    await redis_or_skip(REDIS_URL)
    settings = make_settings(
        database_url,
        storage_root,
        log_path=tmp_path / "log",
        rate_limit_per_minute=3,
        **{"redis_url": REDIS_URL, **overrides},
    )
    return [create_app(settings), create_app(settings)]


async def _close(applications: list[FastAPI]) -> None:
    for application in applications:
        await application.state.rate_limiter.close()
        await application.state.revocations.close()
        await application.state.database.dispose()


async def test_redis_limit_is_shared_between_processes(
    database_url: str, storage_root: Path, tmp_path: Path, app: FastAPI
) -> None:
    first_app, second_app = await _redis_apps(database_url, storage_root, tmp_path)
    try:
        async with client_for(first_app) as first, client_for(second_app) as second:
            statuses = [
                (await client.get("/api/auth/me")).status_code
                for client in (first, second, first)
            ]
            blocked = await second.get("/api/auth/me")
    finally:
        await _close([first_app, second_app])
    assert statuses == [401, 401, 401]
    _assert_429(blocked)


async def test_redis_outage_lets_requests_through(
    database_url: str, storage_root: Path, tmp_path: Path, app: FastAPI
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = make_settings(
        database_url,
        storage_root,
        log_path=tmp_path / "log",
        rate_limit_per_minute=1,
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
    )
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            statuses = {
                (await client.get("/api/auth/me")).status_code for _ in range(3)
            }
    finally:
        await _close([application])
    assert statuses == {401}
