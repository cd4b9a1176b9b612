"""Worker tokens: admin routes, the CLI, revocation and the embedded token."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from mage_studio import cli
from mage_studio.config import Settings, get_settings
from mage_studio.core.db import utcnow
from mage_studio.errors import Unauthorized
from mage_studio.queue import tokens
from mage_studio.queue.models import Worker, WorkerToken
from mage_studio.users.models import User
from tests.factories import auth_headers, create_admin, create_user
from tests.queue.conftest import WorkerCredentials
from tests.queue.factories import claim, claim_http, create_job

TOKENS_URL = "/api/administration/workers/tokens"


@pytest.fixture
async def admin_headers(session: AsyncSession, settings: Settings) -> dict[str, str]:
    admin = await create_admin(session)
    await session.commit()
    return auth_headers(settings, admin)


async def test_admin_creates_token_shown_once(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    created = await client.post(
        TOKENS_URL, json={"name": "gpu-a"}, headers=admin_headers
    )
    listed = await client.get(TOKENS_URL, headers=admin_headers)

    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["name"] == "gpu-a"
    assert data["token"].startswith(data["prefix"])
    assert data["revoked"] is False
    assert listed.status_code == 200
    [listed_token] = listed.json()["data"]
    assert listed_token["id"] == data["id"]
    assert "token" not in listed_token
    record = await session.get(WorkerToken, data["id"])
    assert record is not None
    assert record.token_hash == tokens.hash_token(data["token"])
    assert data["token"] not in record.token_hash


async def test_revoked_token_gets_401(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    worker: WorkerCredentials,
) -> None:
    before = await claim_http(client, worker.token)
    revoked = await client.delete(f"{TOKENS_URL}/{worker.id}", headers=admin_headers)
    after = await claim_http(client, worker.token)
    heartbeat = await client.post(
        "/api/workers/jobs/1/heartbeat", json={"attempt": 1}, headers=worker.headers
    )

    assert before.status_code == 204
    assert revoked.status_code == 200
    assert revoked.json()["data"]["revoked"] is True
    assert after.status_code == 401
    assert heartbeat.status_code == 401
    assert after.json()["error"]["code"] == 401


async def test_revoking_unknown_token_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.delete(f"{TOKENS_URL}/4242", headers=admin_headers)

    assert response.status_code == 404


async def test_token_name_with_nul_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        TOKENS_URL, json={"name": "gpu\u0000host"}, headers=admin_headers
    )

    assert response.status_code == 422
    assert "name" in response.json()["error"]["validator"]


async def test_token_routes_need_an_admin(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()

    anonymous = await client.get(TOKENS_URL)
    regular = await client.get(TOKENS_URL, headers=auth_headers(settings, user))
    workers = await client.get(
        "/api/administration/workers", headers=auth_headers(settings, user)
    )

    assert anonymous.status_code == 401
    assert regular.status_code == 403
    assert workers.status_code == 403


async def test_invalid_worker_token_gets_401(client: httpx.AsyncClient) -> None:
    for token in ("mwt_not-a-real-token", "some-jwt-like-token"):
        response = await claim_http(client, token)
        assert response.status_code == 401


async def test_admin_lists_live_workers_with_current_job(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    owner: User,
    worker: WorkerCredentials,
) -> None:
    job = await create_job(session, owner)
    await session.commit()
    await claim(app, worker.id, "gpu-busy")
    await claim(app, worker.id, "gpu-stale")
    long_ago = utcnow() - timedelta(hours=1)
    await session.execute(
        update(Worker).where(Worker.name == "gpu-stale").values(last_seen_at=long_ago)
    )
    await session.commit()

    live = await client.get("/api/administration/workers", headers=admin_headers)
    everyone = await client.get(
        "/api/administration/workers?include_stale=true", headers=admin_headers
    )

    assert live.status_code == 200
    [busy] = live.json()["data"]
    assert busy["name"] == "gpu-busy"
    assert busy["live"] is True
    assert busy["currentJob"]["id"] == job.id
    assert busy["currentJob"]["status"] == "processing"
    assert busy["tokenId"] == worker.id
    names = {row["name"]: row["live"] for row in everyone.json()["data"]}
    assert names == {"gpu-busy": True, "gpu-stale": False}


async def test_embedded_token_replaces_earlier_one(session: AsyncSession) -> None:
    first = await tokens.ensure_embedded_worker_token(session, 8000)
    await session.commit()
    second = await tokens.ensure_embedded_worker_token(session, 8000)
    await session.commit()

    record = await tokens.authenticate_token(session, second)
    assert record.name == tokens.embedded_token_name(8000)
    with pytest.raises(Unauthorized):
        await tokens.authenticate_token(session, first)
    await session.rollback()


async def test_embedded_tokens_of_two_ports_coexist(session: AsyncSession) -> None:
    first = await tokens.ensure_embedded_worker_token(session, 8000)
    await session.commit()
    second = await tokens.ensure_embedded_worker_token(session, 8001)
    await session.commit()

    first_record = await tokens.authenticate_token(session, first)
    second_record = await tokens.authenticate_token(session, second)
    await session.commit()
    assert first_record.name.endswith(":8000")
    assert second_record.name.endswith(":8001")


async def test_issued_embedded_token_authenticates(
    app: FastAPI, session: AsyncSession
) -> None:
    token = await tokens.issue_embedded_worker_token(app.state.database, 8000)

    record = await tokens.authenticate_token(session, token)
    await session.commit()
    assert record.revoked_at is None


def _invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli.app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def test_cli_creates_lists_and_revokes_tokens(
    session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MAGE_ENV", "test")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        code, out, err = await asyncio.to_thread(
            _invoke, runner, "worker-token", "create", "render-box"
        )
        assert code == 0, err
        secret = out.strip()
        record = await session.scalar(
            select(WorkerToken).where(WorkerToken.name == "render-box")
        )
        await session.commit()
        assert record is not None
        assert record.token_hash == tokens.hash_token(secret)

        code, out, err = await asyncio.to_thread(
            _invoke, runner, "worker-token", "list"
        )
        assert code == 0, err
        assert "render-box" in out
        assert secret not in out

        code, _, err = await asyncio.to_thread(
            _invoke, runner, "worker-token", "revoke", str(record.id)
        )
        assert code == 0, err
        await session.refresh(record)
        assert record.revoked_at is not None
        await session.commit()

        code, _, _ = await asyncio.to_thread(
            _invoke, runner, "worker-token", "revoke", "999999"
        )
        assert code == 1
    finally:
        get_settings.cache_clear()
