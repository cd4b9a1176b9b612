"""Admin registry of SD instances: CRUD, validation, roles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from tests.factories import auth_headers, create_admin, create_user

BASE = "/api/administration/sd-instances"
FORGE = {
    "name": "forge-1",
    "url": "http://10.0.0.5:7860",
    "type": "stable_diffusion_forge",
}


@pytest.fixture
async def admin_headers(session: AsyncSession, settings: Settings) -> dict[str, str]:
    admin = await create_admin(session)
    await session.commit()
    return auth_headers(settings, admin)


async def test_crud_cycle(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post(BASE, headers=admin_headers, json=FORGE)
    instance_id = created.json()["id"]

    listed = await client.get(BASE, headers=admin_headers)
    fetched = await client.get(f"{BASE}/{instance_id}", headers=admin_headers)
    patched = await client.patch(
        f"{BASE}/{instance_id}", headers=admin_headers, json={"name": "forge-a"}
    )
    replaced = await client.put(
        f"{BASE}/{instance_id}",
        headers=admin_headers,
        json={"name": "comfy", "url": "https://comfy.example/", "type": "comfyui"},
    )
    toggled = await client.patch(f"{BASE}/{instance_id}/toggle", headers=admin_headers)
    deleted = await client.delete(f"{BASE}/{instance_id}", headers=admin_headers)
    gone = await client.get(f"{BASE}/{instance_id}", headers=admin_headers)

    assert created.status_code == 201
    assert created.json()["enabled"] is True
    assert [row["id"] for row in listed.json()] == [instance_id]
    assert fetched.json()["url"] == "http://10.0.0.5:7860"
    assert patched.json()["name"] == "forge-a"
    assert patched.json()["type"] == "stable_diffusion_forge"
    assert replaced.json()["type"] == "comfyui"
    assert replaced.json()["url"] == "https://comfy.example"
    assert toggled.json()["enabled"] is False
    assert deleted.json() == {"message": "SD instance deleted successfully"}
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "ftp://host/files"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"type": "automatic"}, "type"),
        ({"name": ""}, "name"),
    ],
)
async def test_create_validation(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    changes: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(BASE, headers=admin_headers, json={**FORGE, **changes})

    assert response.status_code == 422
    assert field in response.json()["error"]["validator"]


async def test_duplicate_name_is_409(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.post(BASE, headers=admin_headers, json=FORGE)

    response = await client.post(BASE, headers=admin_headers, json=FORGE)

    assert response.status_code == 409


async def test_requires_admin(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()

    anonymous = await client.get(BASE)
    as_user = await client.post(BASE, headers=auth_headers(settings, user), json=FORGE)

    assert anonymous.status_code == 401
    assert as_user.status_code == 403
