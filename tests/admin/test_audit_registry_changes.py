"""SD instance and worker token changes by admins each write one audit row."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.audit import AuditEntry
from tests.factories import auth_headers, create_admin

BASE = "/api/administration"


async def _actions(session: AsyncSession) -> list[str]:
    rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    return [row.action for row in rows]


async def test_sd_instance_changes_are_audited(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    await session.commit()
    headers = auth_headers(settings, admin)
    body = {
        "name": "forge-1",
        "url": "http://10.0.0.5:7860",
        "type": "stable_diffusion_forge",
    }

    created = await client.post(f"{BASE}/sd-instances", json=body, headers=headers)
    instance_id = created.json()["id"]
    toggled = await client.patch(
        f"{BASE}/sd-instances/{instance_id}/toggle", headers=headers
    )
    unchanged = await client.patch(
        f"{BASE}/sd-instances/{instance_id}", json={"name": "forge-1"}, headers=headers
    )
    deleted = await client.delete(f"{BASE}/sd-instances/{instance_id}", headers=headers)

    assert created.status_code == 201
    assert toggled.status_code == 200
    assert unchanged.status_code == 200
    assert deleted.status_code == 200
    assert await _actions(session) == [
        "sd_instance.created",
        "sd_instance.updated",
        "sd_instance.deleted",
    ]
    toggle_row = (
        await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "sd_instance.updated")
        )
    ).one()
    assert toggle_row.old_values == {"enabled": True}
    assert toggle_row.new_values == {"enabled": False}


async def test_worker_token_changes_are_audited_without_secret(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    await session.commit()
    headers = auth_headers(settings, admin)

    created = await client.post(
        f"{BASE}/workers/tokens", json={"name": "gpu-01"}, headers=headers
    )
    token = created.json()["data"]["token"]
    token_id = created.json()["data"]["id"]
    revoked = await client.delete(f"{BASE}/workers/tokens/{token_id}", headers=headers)
    again = await client.delete(f"{BASE}/workers/tokens/{token_id}", headers=headers)

    assert created.status_code == 201
    assert revoked.status_code == 200
    assert again.status_code == 200
    assert await _actions(session) == ["worker_token.created", "worker_token.revoked"]
    rows = (await session.scalars(select(AuditEntry))).all()
    assert all(token not in str(row.new_values) for row in rows)
