"""Every route under /api/administration: 401 without a token, 403 for a user.

The routes are read from the application, so routes that other domains add under
the prefix are covered too.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from tests.factories import auth_headers, create_admin, create_user

PREFIX = "/api/administration"
PATH_PARAMETER = re.compile(r"\{[^}]+\}")


def admin_endpoints(app: FastAPI) -> list[tuple[str, str]]:
    """Return (method, concrete path) of every admin route, path parameters = 1."""
    endpoints = set()
    for context in iter_route_contexts(app.routes):
        path = context.path_format
        if not path or not (path == PREFIX or path.startswith(PREFIX + "/")):
            continue
        concrete = PATH_PARAMETER.sub("1", path)
        for method in context.methods or ():
            if method not in {"HEAD", "OPTIONS"}:
                endpoints.add((method, concrete))
    return sorted(endpoints)


def test_admin_endpoints_include_every_domain(app: FastAPI) -> None:
    paths = {path for _, path in admin_endpoints(app)}

    for expected in (
        f"{PREFIX}/users",
        f"{PREFIX}/audit-log",
        f"{PREFIX}/sd-instances",
        f"{PREFIX}/workers/tokens",
    ):
        assert expected in paths


async def test_admin_routes_reject_anonymous(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    endpoints = admin_endpoints(app)
    assert len(endpoints) >= 20

    failures = []
    for method, path in endpoints:
        response = await client.request(method, path)
        if response.status_code != 401 or "error" not in response.json():
            failures.append((method, path, response.status_code))

    assert failures == []


async def test_admin_routes_reject_users(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()
    headers = auth_headers(settings, user)

    failures = []
    for method, path in admin_endpoints(app):
        response = await client.request(method, path, headers=headers)
        if response.status_code != 403 or response.json()["error"]["code"] != 1008:
            failures.append((method, path, response.status_code))

    assert failures == []


async def test_seller_is_no_admin(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    seller = await create_user(session, roles=["seller"])
    await session.commit()

    response = await client.get(
        f"{PREFIX}/users", headers=auth_headers(settings, seller)
    )

    assert response.status_code == 403


async def test_invalid_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"{PREFIX}/users", headers={"Authorization": "Bearer not-a-token"}
    )

    assert response.status_code == 401


async def test_audit_log_has_only_a_read_route(app: FastAPI) -> None:
    audit_routes = [
        (method, path)
        for method, path in admin_endpoints(app)
        if path.startswith(f"{PREFIX}/audit-log")
    ]

    assert audit_routes == [("GET", f"{PREFIX}/audit-log")]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
async def test_audit_log_rejects_changes(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, method: str
) -> None:
    admin = await create_admin(session)
    await session.commit()

    response = await client.request(
        method, f"{PREFIX}/audit-log", headers=auth_headers(settings, admin)
    )

    assert response.status_code == 405
