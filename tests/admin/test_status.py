"""GET /api/status: checks for everyone, details for admins, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.jobs.models import JobStatus
from mage_studio.queue.models import Worker, WorkerToken
from tests.admin.factories import create_job
from tests.auth.fixtures import client_for, redis_or_skip
from tests.conftest import empty_tables, make_settings
from tests.factories import auth_headers, create_admin, create_user

STATUS = "/api/status"
SERVICES = ["app", "database", "storage", "redis", "queue", "workers"]
# A database number of its own, so other tests flushing theirs do not interfere.
STATUS_REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def settings(database_url: str, storage_root: Path, tmp_path: Path) -> Settings:
    """Test settings with a generous check timeout, so that a slow test machine
    does not turn a healthy check into a failed one."""
    return make_settings(
        database_url,
        storage_root,
        log_path=tmp_path / "log",
        status_check_timeout_seconds=20,
    )


def _by_name(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {service["name"]: service for service in response.json()["data"]["services"]}


@pytest.fixture
async def make_app(
    database_url: str, storage_root: Path, tmp_path: Path
) -> AsyncIterator[Any]:
    """Build apps with setting overrides; their databases are emptied afterwards."""
    apps: list[FastAPI] = []

    def build(**overrides: object) -> FastAPI:
        values: dict[str, object] = {
            "database_url": database_url,
            "storage_path": storage_root,
            "log_path": tmp_path / "log",
            "status_check_timeout_seconds": 20,
            **overrides,
        }
        url = values.pop("database_url")
        storage = values.pop("storage_path")
        app = create_app(make_settings(str(url), Path(str(storage)), **values))
        apps.append(app)
        return app

    yield build
    for app in apps:
        if app.state.database.url == database_url:
            await empty_tables(app.state.database)
        await app.state.database.dispose()


async def test_anonymous_sees_names_and_status_only(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(STATUS)

    body = response.json()["data"]
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert [service["name"] for service in body["services"]] == SERVICES
    for service in body["services"]:
        assert service["status"] == "ok"
        assert service["details"] is None


async def test_user_sees_no_details(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.get(STATUS, headers=auth_headers(settings, user))

    for service in _by_name(response).values():
        assert service["details"] is None


async def test_invalid_token_counts_as_anonymous(client: httpx.AsyncClient) -> None:
    response = await client.get(STATUS, headers={"Authorization": "Bearer nonsense"})

    for service in _by_name(response).values():
        assert service["details"] is None


async def test_admin_sees_details(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    await create_job(session, admin, status=JobStatus.FINISHED)
    await session.commit()

    response = await client.get(STATUS, headers=auth_headers(settings, admin))

    services = _by_name(response)
    for service in services.values():
        assert service["status"] == "ok"
        assert service["details"]["latency_ms"] >= 0
    assert services["app"]["details"]["env"] == "test"
    dialect = make_url(settings.database_url).get_backend_name()
    assert services["database"]["details"]["dialect"] == dialect
    assert services["storage"]["details"]["backend"] == "local"
    assert services["redis"]["details"]["message"] == "not configured"
    assert services["queue"]["details"]["counts"] == {"finished": 1}
    assert services["workers"]["details"]["live"] == 0


async def test_one_service(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{STATUS}/database")

    assert list(_by_name(response)) == ["database"]


async def test_unknown_service_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{STATUS}/mainframe")

    assert response.status_code == 404
    assert "mainframe" in response.json()["error"]["message"]


async def test_storage_probe_leaves_no_file(
    client: httpx.AsyncClient, storage_root: Path
) -> None:
    response = await client.get(f"{STATUS}/storage")

    assert _by_name(response)["storage"]["status"] == "ok"
    assert list((storage_root / "status-probes").rglob("*.txt")) == []


async def test_broken_redis_and_storage_are_reported(
    make_app: Any, session: AsyncSession, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "storage-file"
    not_a_folder.write_text("a file where the storage folder should be")
    app = make_app(redis_url="redis://127.0.0.1:1/0", storage_path=not_a_folder)
    admin = await create_admin(session)
    await session.commit()

    async with client_for(app) as client:
        anonymous = await client.get(STATUS)
        as_admin = await client.get(
            STATUS, headers=auth_headers(app.state.settings, admin)
        )

    services = _by_name(anonymous)
    assert anonymous.json()["data"]["status"] == "failed"
    assert services["redis"]["status"] == "failed"
    assert services["storage"]["status"] == "failed"
    assert services["database"]["status"] == "ok"
    assert services["app"]["status"] == "ok"
    # Tokens are checked against the revocation list in Redis: with Redis down the
    # admin cannot be verified, so the details stay hidden.
    for service in _by_name(as_admin).values():
        assert service["details"] is None


async def test_admin_sees_storage_error(
    make_app: Any, session: AsyncSession, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "storage-file"
    not_a_folder.write_text("a file where the storage folder should be")
    app = make_app(storage_path=not_a_folder)
    admin = await create_admin(session)
    await session.commit()

    async with client_for(app) as client:
        response = await client.get(
            f"{STATUS}/storage", headers=auth_headers(app.state.settings, admin)
        )

    storage = _by_name(response)["storage"]
    assert storage["status"] == "failed"
    assert "Error" in storage["details"]["error"]


async def test_unreachable_database_is_reported(make_app: Any) -> None:
    app = make_app(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/mage_status",
        database_null_pool=True,
    )

    async with client_for(app) as client:
        response = await client.get(STATUS)

    services = _by_name(response)
    for name in ("database", "queue", "workers"):
        assert services[name]["status"] == "failed"
    assert services["storage"]["status"] == "ok"


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never replies."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    yield port
    for writer in connections:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_hanging_redis_times_out(make_app: Any, silent_server: int) -> None:
    app = make_app(
        redis_url=f"redis://127.0.0.1:{silent_server}/0",
        status_check_timeout_seconds=0.3,
        # The request rate limiter would wait on the silent server first.
        rate_limit_enabled=False,
    )

    async with client_for(app) as client:
        response = await client.get(f"{STATUS}/redis")

    assert _by_name(response)["redis"]["status"] == "failed"


async def test_real_redis_is_ok(make_app: Any, session: AsyncSession) -> None:
    await redis_or_skip(STATUS_REDIS_URL)
    app = make_app(redis_url=STATUS_REDIS_URL)
    admin = await create_admin(session)
    await session.commit()

    async with client_for(app) as client:
        response = await client.get(
            f"{STATUS}/redis", headers=auth_headers(app.state.settings, admin)
        )

    redis = _by_name(response)["redis"]
    assert redis["status"] == "ok"
    assert redis["details"]["configured"] is True


async def test_workers_fail_when_jobs_wait_without_worker(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    await create_job(session, admin, status=JobStatus.APPROVED)
    await session.commit()
    headers = auth_headers(settings, admin)

    waiting = _by_name(await client.get(f"{STATUS}/workers", headers=headers))

    assert waiting["workers"]["status"] == "failed"
    assert "1 job" in waiting["workers"]["details"]["error"]

    token = WorkerToken(name="gpu", token_hash="0" * 64, prefix="mw_0")
    session.add(token)
    await session.flush()
    session.add(Worker(token_id=token.id, name="gpu-1", last_seen_at=utcnow()))
    await session.commit()

    live = _by_name(await client.get(f"{STATUS}/workers", headers=headers))

    assert live["workers"]["status"] == "ok"
    assert live["workers"]["details"]["names"] == ["gpu-1"]
