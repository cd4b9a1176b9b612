"""The error shape for every documented status, through real routes and the database."""

from __future__ import annotations

import logging
import sqlite3

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import text

from mage_studio.app import create_app
from mage_studio.config import Settings
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.errors import NotFound
from mage_studio.users.models import User
from tests.conftest import make_settings


class Unit(BaseModel):
    weight: float = Field(ge=0, le=2)


class Payload(BaseModel):
    videoId: int
    prompt: str = Field(min_length=1)
    controlnet: list[Unit] = []


def _probe_router() -> APIRouter:
    router = APIRouter(route_class=DbRoute)

    @router.post("/probe/validate")
    async def validate(payload: Payload) -> dict[str, int]:
        return {"videoId": payload.videoId}

    @router.post("/probe/duplicate")
    async def duplicate(session: DbSession) -> dict[str, str]:
        session.add(User(email="same@example.com", login="first"))
        session.add(User(email="same@example.com", login="second"))
        await session.flush()
        return {"status": "unreachable"}

    @router.get("/probe/missing")
    async def missing() -> dict[str, str]:
        raise NotFound("The video job was not found.")

    @router.get("/probe/crash")
    async def crash() -> dict[str, str]:
        raise RuntimeError("secret internals: password=hunter2")

    @router.get("/probe/count")
    async def count(session: DbSession) -> dict[str, int]:
        total = await session.scalar(text("SELECT count(*) FROM users"))
        return {"users": int(total or 0)}

    return router


@pytest.fixture
async def probe_client(app: FastAPI) -> httpx.AsyncClient:
    app.include_router(_probe_router())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, object] = body["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/no-such-route")
    assert response.status_code == 404
    assert _error(response)["code"] == 404


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert _error(response)["code"] == 405


async def test_validation_error_names_fields_as_sent(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post(
        "/probe/validate",
        json={"videoId": "abc", "prompt": "", "controlnet": [{"weight": 9}]},
    )
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == 422
    validator = error["validator"]
    assert isinstance(validator, dict)
    assert set(validator) == {"videoId", "prompt", "controlnet.0.weight"}
    assert all(isinstance(messages, list) for messages in validator.values())


async def test_missing_field_is_reported_as_required(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post("/probe/validate", json={"prompt": "a cat"})
    assert response.status_code == 422
    assert _error(response)["validator"] == {"videoId": ["This field is required."]}


async def test_malformed_json_is_422(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/probe/validate",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "body" in _error(response)["validator"]  # type: ignore[operator]


async def test_domain_error_keeps_its_message(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/probe/missing")
    assert response.status_code == 404
    assert _error(response)["message"] == "The video job was not found."


async def test_integrity_conflict_is_409_and_rolled_back(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.post("/probe/duplicate")
    assert response.status_code == 409
    assert _error(response)["code"] == 409
    count = await probe_client.get("/probe/count")
    assert count.json() == {"users": 0}


async def test_unexpected_exception_is_500_without_internals(
    probe_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    response = await probe_client.get(
        "/probe/crash", headers={"X-Request-ID": "req-crash-1"}
    )
    assert response.status_code == 500
    assert _error(response) == {"message": "Internal server error.", "code": 500}
    assert "hunter2" not in response.text
    assert response.headers["X-Request-ID"] == "req-crash-1"
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    crash_logs = [e for e in logged if e.get("event") == "unhandled_exception"]
    assert crash_logs
    assert crash_logs[0]["request_id"] == "req-crash-1"


async def test_sqlite_busy_is_503(
    probe_client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    database = app.state.database
    if not database.is_sqlite:
        pytest.skip("the busy lock is specific to SQLite")
    path = database.engine.url.database
    busy = create_app(
        make_settings(
            settings.database_url, settings.storage_path, sqlite_busy_timeout_ms=50
        )
    )
    busy.include_router(_probe_router())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        transport = httpx.ASGITransport(app=busy, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver"
        ) as http:
            response = await http.get("/probe/count")
    finally:
        holder.rollback()
        holder.close()
        await busy.state.database.dispose()
    assert response.status_code == 503
    assert _error(response)["code"] == 503
    assert response.headers["Retry-After"] == "1"


async def test_database_down_is_503(settings: Settings) -> None:
    down = create_app(
        make_settings(
            "postgresql+asyncpg://postgres@127.0.0.1:1/nothing",
            settings.storage_path,
        )
    )
    down.include_router(_probe_router())
    transport = httpx.ASGITransport(app=down, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as http:
        ready = await http.get("/ready")
        count = await http.get("/probe/count")
    await down.state.database.dispose()
    assert ready.status_code == 503
    assert _error(ready)["code"] == 503
    assert count.status_code == 503
    assert _error(count)["code"] == 503
