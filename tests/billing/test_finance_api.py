"""Finance operations over HTTP: top-ups, withdrawals, cancels and admin statuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger
from mage_studio.billing.finance import create_operation
from mage_studio.billing.models import WalletType
from mage_studio.config import Settings
from mage_studio.core.audit import AuditEntry
from mage_studio.users.models import User
from tests.billing.factories import available, fund
from tests.factories import auth_headers, create_user

STATUS_URL = "/api/finance-operations/change-finance-operation-status"


async def _create(
    client: httpx.AsyncClient,
    settings: Settings,
    user: User,
    wallet_type_id: int,
    **body: Any,
) -> httpx.Response:
    payload = {"info": "acct-12345678", "typeId": wallet_type_id, **body}
    return await client.post(
        "/api/finance-operations", json=payload, headers=auth_headers(settings, user)
    )


async def _create_operation(
    client: httpx.AsyncClient,
    settings: Settings,
    user: User,
    wallet_type_id: int,
    **body: Any,
) -> int:
    """Create an operation through the API and return its id."""
    created = await _create(client, settings, user, wallet_type_id, **body)
    assert created.status_code == 201, created.text
    operation_id: int = created.json()["data"]["id"]
    return operation_id


async def _set_status(
    client: httpx.AsyncClient,
    settings: Settings,
    admin: User,
    operation_id: int,
    status: int,
) -> httpx.Response:
    return await client.patch(
        STATUS_URL,
        json={"id": operation_id, "status": status},
        headers=auth_headers(settings, admin),
    )


async def test_executed_enrolment_credits_balance(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    admin: User,
    wallet_type: WalletType,
) -> None:
    created = await _create(client, settings, user, wallet_type.id, money=1500, type=1)
    assert created.status_code == 201, created.text
    operation = created.json()["data"]
    assert operation["status"] == 1
    assert operation["wallet"]["info"] == "*********5678"
    assert await available(session, user) == (0, 0)

    pending = await _set_status(client, settings, admin, operation["id"], 3)
    executed = await _set_status(client, settings, admin, operation["id"], 2)

    assert pending.json()["data"]["status"] == 3
    assert executed.status_code == 200
    assert executed.json()["data"]["status"] == 2
    assert executed.json()["data"]["executedAt"] is not None
    assert await available(session, user) == (1500, 0)
    assert (await ledger.check_ledger(session)).ok


@pytest.mark.parametrize("final_status", [2, 4])
async def test_final_statuses_cannot_change(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    admin: User,
    wallet_type: WalletType,
    final_status: int,
) -> None:
    operation_id = await _create_operation(
        client, settings, user, wallet_type.id, money=10, type=1
    )
    await _set_status(client, settings, admin, operation_id, final_status)

    for next_status in (1, 2, 3, 4):
        response = await _set_status(client, settings, admin, operation_id, next_status)
        assert response.status_code == 409, next_status
        assert response.json()["error"]["code"] == 1013
    expected = 10 if final_status == 2 else 0
    assert await available(session, user) == (expected, 0)


async def test_status_change_needs_admin(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    wallet_type: WalletType,
) -> None:
    operation_id = await _create_operation(
        client, settings, user, wallet_type.id, money=10, type=1
    )

    response = await _set_status(client, settings, user, operation_id, 2)

    assert response.status_code == 403
    assert await available(session, user) == (0, 0)


async def test_status_change_is_audited(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    admin: User,
    wallet_type: WalletType,
) -> None:
    operation_id = await _create_operation(
        client, settings, user, wallet_type.id, money=10, type=1
    )

    await _set_status(client, settings, admin, operation_id, 2)

    entries = list(await session.scalars(select(AuditEntry)))
    assert len(entries) == 1
    assert entries[0].actor_id == admin.id
    assert entries[0].action == "finance_operation.status_changed"
    assert entries[0].target_type == "finance_operation"
    assert entries[0].target_id == str(operation_id)
    assert entries[0].old_values == {"status": 1}
    assert entries[0].new_values == {"status": 2}


async def test_write_off_holds_then_pays_out(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    admin: User,
    wallet_type: WalletType,
) -> None:
    await fund(session, user, money=1000)
    await session.commit()

    created = await _create(client, settings, user, wallet_type.id, money=600, type=2)
    assert created.status_code == 201, created.text
    assert await available(session, user) == (400, 0)
    short = await _create(client, settings, user, wallet_type.id, money=401, type=2)
    assert short.status_code == 402
    assert short.json()["error"]["code"] == 1012

    executed = await _set_status(
        client, settings, admin, created.json()["data"]["id"], 2
    )

    assert executed.status_code == 200
    assert await available(session, user) == (400, 0)
    credits = await client.get("/api/credits", headers=auth_headers(settings, user))
    assert credits.json()["data"]["balance"] == {
        "unit": "USD",
        "posted": 400,
        "held": 0,
        "available": 400,
    }
    assert (await ledger.check_ledger(session)).ok


async def test_user_cancel_releases_write_off_hold(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    wallet_type: WalletType,
) -> None:
    await fund(session, user, money=1000)
    await session.commit()
    operation_id = await _create_operation(
        client, settings, user, wallet_type.id, money=700, type=2
    )

    canceled = await client.put(
        f"/api/finance-operations/{operation_id}",
        json={"cancelInfo": "  Changed my mind  "},
        headers=auth_headers(settings, user),
    )
    again = await client.put(
        f"/api/finance-operations/{operation_id}",
        json={"cancelInfo": "again"},
        headers=auth_headers(settings, user),
    )

    assert canceled.status_code == 200
    body = canceled.json()["data"]
    assert body["status"] == 4
    assert body["canceledInfo"] == "Changed my mind"
    assert body["canceledAt"] is not None
    assert again.status_code == 409
    assert await available(session, user) == (1000, 0)


async def test_user_cannot_cancel_executed_operation(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    admin: User,
    wallet_type: WalletType,
) -> None:
    operation_id = await _create_operation(
        client, settings, user, wallet_type.id, money=50, type=1
    )
    await _set_status(client, settings, admin, operation_id, 2)

    response = await client.put(
        f"/api/finance-operations/{operation_id}",
        json={},
        headers=auth_headers(settings, user),
    )

    assert response.status_code == 409
    assert await available(session, user) == (50, 0)


async def test_others_operations_are_not_found(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    wallet_type: WalletType,
) -> None:
    owner = await create_user(session)
    intruder = await create_user(session)
    await fund(session, owner, money=100)
    await session.commit()
    created = await _create(client, settings, owner, wallet_type.id, money=100, type=2)
    operation_id = created.json()["data"]["id"]
    wallet_id = created.json()["data"]["wallet"]["id"]
    headers = auth_headers(settings, intruder)

    shown = await client.get(f"/api/finance-operations/{operation_id}", headers=headers)
    canceled = await client.put(
        f"/api/finance-operations/{operation_id}", json={}, headers=headers
    )
    listed = await client.get("/api/finance-operations", headers=headers)
    with_wallet = await client.post(
        "/api/finance-operations",
        json={"money": 5, "type": 1, "walletId": wallet_id},
        headers=headers,
    )

    assert shown.status_code == 404
    assert canceled.status_code == 404
    assert listed.json()["data"] == []
    assert with_wallet.status_code == 404
    assert with_wallet.json()["error"]["code"] == 1006
    assert await available(session, owner) == (0, 0)


async def test_list_filters_by_type(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    wallet_type: WalletType,
) -> None:
    await fund(session, user, money=100)
    await session.commit()
    await _create(client, settings, user, wallet_type.id, money=10, type=1)
    await _create(client, settings, user, wallet_type.id, money=20, type=2)
    headers = auth_headers(settings, user)

    everything = await client.get("/api/finance-operations", headers=headers)
    top_ups = await client.get("/api/finance-operations?type=1", headers=headers)

    assert [item["money"] for item in everything.json()["data"]] == [20, 10]
    assert everything.json()["meta"]["total"] == 2
    assert [item["money"] for item in top_ups.json()["data"]] == [10]


async def test_operation_with_saved_wallet(
    client: httpx.AsyncClient,
    settings: Settings,
    user: User,
    wallet_type: WalletType,
) -> None:
    headers = auth_headers(settings, user)
    wallet = await client.post(
        "/api/user-wallets/",
        json={"info": "GB33BUKB20201555555555", "walletTypeId": wallet_type.id},
        headers=headers,
    )
    wallet_id = wallet.json()["data"]["id"]

    created = await client.post(
        "/api/finance-operations",
        json={"money": 5, "type": 1, "walletId": wallet_id},
        headers=headers,
    )
    reused = await _create(
        client,
        settings,
        user,
        wallet_type.id,
        money=5,
        type=1,
        info="GB33BUKB20201555555555",
    )

    assert created.json()["data"]["wallet"]["id"] == wallet_id
    assert reused.json()["data"]["wallet"]["id"] == wallet_id


@pytest.mark.parametrize("money", [1.5, 1.0, "100", 0, -5, 2**63, True, None])
async def test_money_must_be_positive_int64(
    client: httpx.AsyncClient,
    settings: Settings,
    user: User,
    wallet_type: WalletType,
    money: object,
) -> None:
    response = await _create(
        client, settings, user, wallet_type.id, money=money, type=1
    )

    assert response.status_code == 422
    assert "money" in response.json()["error"]["validator"]


async def test_largest_money_is_accepted(
    client: httpx.AsyncClient,
    settings: Settings,
    user: User,
    wallet_type: WalletType,
) -> None:
    largest = settings.finance_max_amount
    response = await _create(
        client, settings, user, wallet_type.id, money=largest, type=1
    )

    assert response.status_code == 201
    assert response.json()["data"]["money"] == largest


@pytest.mark.parametrize("over", [1, 2**63 - 1 - 100_000_000])
async def test_money_above_maximum_is_422(
    client: httpx.AsyncClient,
    settings: Settings,
    user: User,
    wallet_type: WalletType,
    over: int,
) -> None:
    money = settings.finance_max_amount + over
    response = await _create(
        client, settings, user, wallet_type.id, money=money, type=1
    )

    assert response.status_code == 422
    assert list(response.json()["error"]["validator"]) == ["money"]
    listed = await client.get(
        "/api/finance-operations", headers=auth_headers(settings, user)
    )
    assert listed.json()["data"] == []


async def test_balance_overflow_on_execution_is_409(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    user: User,
    admin: User,
    wallet_type: WalletType,
) -> None:
    # Operations stored before the per-operation maximum existed may be this large.
    unlimited = settings.model_copy(update={"finance_max_amount": 2**63 - 1})
    operations = [
        await create_operation(
            session,
            user,
            money=2**63 - 1,
            type_=1,
            settings=unlimited,
            info="acct-12345678",
            wallet_type_id=wallet_type.id,
        )
        for _ in range(2)
    ]
    await session.commit()

    first = await _set_status(client, settings, admin, operations[0].id, 2)
    second = await _set_status(client, settings, admin, operations[1].id, 2)

    assert first.status_code == 200
    assert second.status_code == 409
    assert "validator" not in second.json()["error"]
    unchanged = await client.get(
        f"/api/finance-operations/{operations[1].id}",
        headers=auth_headers(settings, user),
    )
    assert unchanged.json()["data"]["status"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"money": 5, "type": 3, "walletId": 1},
        {"money": 5, "type": 1},
        {"money": 5, "type": 1, "info": "abc"},
        {"money": 5, "type": "1", "walletId": 1},
    ],
)
async def test_invalid_operation_bodies_are_422(
    client: httpx.AsyncClient,
    settings: Settings,
    user: User,
    body: dict[str, Any],
) -> None:
    response = await client.post(
        "/api/finance-operations", json=body, headers=auth_headers(settings, user)
    )

    assert response.status_code == 422
