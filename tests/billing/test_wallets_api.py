"""Wallet types and user wallets over HTTP."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import wallets
from mage_studio.billing.models import UserWallet
from mage_studio.billing.seed import seed
from mage_studio.config import Settings
from mage_studio.users.models import User
from tests.billing.factories import create_wallet_type
from tests.factories import auth_headers, create_user


async def test_wallet_types_are_public(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await seed(session, settings)
    await session.commit()

    response = await client.get("/api/wallet-types")

    assert response.status_code == 200
    names = [item["name"] for item in response.json()["data"]]
    assert names == ["PayPal", "Stripe", "Bank card", "Personal balance"]
    assert set(response.json()["data"][0]) == {"id", "name", "walletSymbol"}


async def test_wallet_crud_masks_info(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    paypal = await create_wallet_type(session)
    card = await create_wallet_type(session, "Card")
    await session.commit()
    headers = auth_headers(settings, user)

    created = await client.post(
        "/api/user-wallets/",
        json={"info": " 4111111111111111 ", "walletTypeId": card.id},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    wallet = created.json()["data"]
    assert wallet["info"] == "************1111"
    assert wallet["type"]["id"] == card.id

    await client.post(
        "/api/user-wallets",
        json={"info": "me@example.com", "walletTypeId": paypal.id},
        headers=headers,
    )
    listed = await client.get("/api/user-wallets", headers=headers)
    assert len(listed.json()["data"]) == 2
    by_type = await client.get(
        f"/api/user-wallets/by-wallet-type-id/{card.id}", headers=headers
    )
    assert [item["id"] for item in by_type.json()["data"]] == [wallet["id"]]
    all_types = await client.get(
        "/api/user-wallets/by-wallet-type-id/0", headers=headers
    )
    assert len(all_types.json()["data"]) == 2

    updated = await client.put(
        "/api/user-wallets/",
        json={"id": wallet["id"], "info": "5500000000000004", "walletTypeId": card.id},
        headers=headers,
    )
    assert updated.status_code == 200
    assert updated.json()["data"]["info"] == "************0004"

    deleted = await client.delete(f"/api/user-wallets/{wallet['id']}", headers=headers)
    assert deleted.status_code == 204
    listed = await client.get("/api/user-wallets", headers=headers)
    assert [item["type"]["id"] for item in listed.json()["data"]] == [paypal.id]


async def test_duplicate_wallet_is_conflict(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    paypal = await create_wallet_type(session)
    await session.commit()
    body = {"info": "me@example.com", "walletTypeId": paypal.id}

    first = await client.post(
        "/api/user-wallets/", json=body, headers=auth_headers(settings, user)
    )
    second = await client.post(
        "/api/user-wallets/", json=body, headers=auth_headers(settings, user)
    )

    assert first.status_code == 201
    assert second.status_code == 409


async def test_saving_deleted_wallet_again_restores_it(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    paypal = await create_wallet_type(session)
    await session.commit()
    body = {"info": "me@example.com", "walletTypeId": paypal.id}
    headers = auth_headers(settings, user)
    first = await client.post("/api/user-wallets/", json=body, headers=headers)
    wallet_id = first.json()["data"]["id"]
    deleted = await client.delete(f"/api/user-wallets/{wallet_id}", headers=headers)

    again = await client.post("/api/user-wallets/", json=body, headers=headers)
    listed = await client.get("/api/user-wallets", headers=headers)

    assert deleted.status_code == 204
    assert again.status_code == 201
    assert again.json()["data"]["id"] == wallet_id
    assert [wallet["id"] for wallet in listed.json()["data"]] == [wallet_id]


async def _miss_lookup_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next duplicate lookup return None, as it does for a request whose
    lookup ran just before a concurrent request saved the same wallet."""
    find_wallet = wallets._find_wallet
    missed = False

    async def find_after_race(
        session: AsyncSession, user: User, info: str, wallet_type_id: int
    ) -> UserWallet | None:
        nonlocal missed
        if not missed:
            missed = True
            return None
        return await find_wallet(session, user, info, wallet_type_id)

    monkeypatch.setattr(wallets, "_find_wallet", find_after_race)


async def test_racing_duplicate_wallet_is_conflict(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = await create_user(session)
    paypal = await create_wallet_type(session)
    await session.commit()
    headers = auth_headers(settings, user)
    body = {"info": "me@example.com", "walletTypeId": paypal.id}
    first = await client.post("/api/user-wallets/", json=body, headers=headers)
    await _miss_lookup_once(monkeypatch)

    second = await client.post("/api/user-wallets/", json=body, headers=headers)

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"]["message"] == "This wallet is already saved."
    listed = await client.get("/api/user-wallets", headers=headers)
    assert len(listed.json()["data"]) == 1


async def test_racing_top_up_reuses_saved_wallet(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = await create_user(session)
    paypal = await create_wallet_type(session)
    await session.commit()
    headers = auth_headers(settings, user)
    body = {"money": 100, "type": 1, "info": "me@example.com", "typeId": paypal.id}
    first = await client.post("/api/finance-operations", json=body, headers=headers)
    await _miss_lookup_once(monkeypatch)

    second = await client.post("/api/finance-operations", json=body, headers=headers)

    assert first.status_code == 201
    assert second.status_code == 201
    first_wallet = first.json()["data"]["wallet"]["id"]
    assert second.json()["data"]["wallet"]["id"] == first_wallet
    listed = await client.get("/api/user-wallets", headers=headers)
    assert len(listed.json()["data"]) == 1


async def test_unknown_wallet_type_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.post(
        "/api/user-wallets/",
        json={"info": "me@example.com", "walletTypeId": 999},
        headers=auth_headers(settings, user),
    )

    assert response.status_code == 422
    assert "walletTypeId" in response.json()["error"]["validator"]


async def test_others_wallets_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await create_user(session)
    intruder = await create_user(session)
    paypal = await create_wallet_type(session)
    await session.commit()
    created = await client.post(
        "/api/user-wallets/",
        json={"info": "owner@example.com", "walletTypeId": paypal.id},
        headers=auth_headers(settings, owner),
    )
    wallet_id = created.json()["data"]["id"]
    headers = auth_headers(settings, intruder)

    update = await client.put(
        "/api/user-wallets/",
        json={"id": wallet_id, "info": "mine", "walletTypeId": paypal.id},
        headers=headers,
    )
    delete = await client.delete(f"/api/user-wallets/{wallet_id}", headers=headers)
    listed = await client.get("/api/user-wallets", headers=headers)

    assert update.status_code == 404
    assert update.json()["error"]["code"] == 1006
    assert delete.status_code == 404
    assert listed.json()["data"] == []


async def test_wallets_need_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/user-wallets")
    assert response.status_code == 401
