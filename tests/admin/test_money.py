"""Finance operations and orders of every user, as administrators see them."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.accounts import user_balances
from mage_studio.billing.ledger import check_ledger
from mage_studio.billing.models import Order, OrderStatus
from mage_studio.config import Settings
from mage_studio.users.models import User
from tests.admin.factories import (
    audit_entries,
    buy,
    create_product,
    create_withdrawal,
    fund,
)
from tests.factories import auth_headers, create_user

FINANCE = "/api/administration/finance-operations/get-all"
ORDERS = "/api/administration/orders"
CHANGE_ORDER = "/api/administration/orders/change-order-status"
IBAN = "DE44500105175407324931"


@pytest.fixture
def headers(settings: Settings, admin: User) -> dict[str, str]:
    return auth_headers(settings, admin)


async def _ids(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: object
) -> list[int]:
    response = await client.get(url, params=params, headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


# --- finance operations ----------------------------------------------------------


async def test_finance_operations_show_owner_and_full_wallet(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers: dict[str, str],
) -> None:
    user = await create_user(session, login="payee")
    await fund(session, user, settings, money=1000)
    operation = await create_withdrawal(session, user, settings, money=250)
    await session.commit()

    response = await client.get(FINANCE, headers=headers)

    item = response.json()["data"][0]
    assert response.status_code == 200
    assert item["id"] == operation.id
    assert item["money"] == 250
    assert item["status"] == 1
    assert item["user"] == {"id": user.id, "login": "payee"}
    assert item["wallet"]["info"] == IBAN
    assert item["wallet"]["deletedAt"] is None


async def test_finance_operations_filter(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers: dict[str, str],
) -> None:
    first = await create_user(session, login="al_ice")
    second = await create_user(session, login="alxice")
    for user in (first, second):
        await fund(session, user, settings, money=1000)
    small = await create_withdrawal(session, first, settings, money=100)
    large = await create_withdrawal(session, second, settings, money=900)
    large.status = 3
    await session.commit()
    day = small.created_at.date().isoformat()

    assert await _ids(client, FINANCE, headers, userLogin="l_i") == [small.id]
    assert await _ids(client, FINANCE, headers, userLogin="ALXI") == [large.id]
    assert await _ids(client, FINANCE, headers, id=small.id) == [small.id]
    assert await _ids(client, FINANCE, headers, statusId=3) == [large.id]
    assert await _ids(client, FINANCE, headers, startDate=day, endDate=day) == [
        large.id,
        small.id,
    ]
    assert await _ids(client, FINANCE, headers, endDate="2000-01-01") == []
    assert await _ids(client, FINANCE, headers, startDate="2999-01-01") == []
    assert await _ids(
        client, FINANCE, headers, orderType="money", orderDirection="asc"
    ) == [small.id, large.id]
    assert await _ids(client, FINANCE, headers, orderType="money") == [
        large.id,
        small.id,
    ]
    assert await _ids(
        client, FINANCE, headers, orderType="money", orderDirection="ASC"
    ) == [small.id, large.id]
    assert await _ids(
        client, FINANCE, headers, orderType="money", orderDirection="Desc"
    ) == [large.id, small.id]
    assert await _ids(client, FINANCE, headers, userLogin="", statusId="") == [
        large.id,
        small.id,
    ]


@pytest.mark.parametrize(
    ("params", "invalid"),
    [
        ({"orderType": "password"}, "orderType"),
        ({"orderType": "user.password_hash"}, "orderType"),
        ({"orderDirection": "sideways"}, "orderDirection"),
        ({"sort": "password"}, "sort"),
        ({"statusId": 5}, "statusId"),
        ({"startDate": "yesterday"}, "startDate"),
        ({"id": 0}, "id"),
    ],
)
async def test_finance_operations_reject_unknown_values(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    params: dict[str, object],
    invalid: str,
) -> None:
    response = await client.get(FINANCE, params=params, headers=headers)  # type: ignore[arg-type]

    assert response.status_code == 422
    assert invalid in response.json()["error"]["validator"]


# --- orders ----------------------------------------------------------------------


@pytest.fixture
async def seller_order(
    session: AsyncSession, settings: Settings
) -> tuple[Order, User, User]:
    """A paid order of a seller's product; the money waits in escrow."""
    seller = await create_user(session, login="sel_ler")
    customer = await create_user(session, login="cus%tomer")
    await fund(session, customer, settings, money=2000)
    product = await create_product(session, seller=seller, price=700)
    order = await buy(session, customer, product, settings)
    await session.commit()
    return order, seller, customer


async def test_orders_filter_by_logins(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers: dict[str, str],
    seller_order: tuple[Order, User, User],
) -> None:
    order, _, _ = seller_order
    buyer = await create_user(session, login="buyer")
    await fund(session, buyer, settings, money=2000)
    pack = await create_product(session, seller=None, price=100, credits=10)
    platform_order = await buy(session, buyer, pack, settings)
    await session.commit()

    assert await _ids(client, ORDERS, headers) == [platform_order.id, order.id]
    assert await _ids(client, ORDERS, headers, userCustomerLogin="%") == [order.id]
    assert await _ids(client, ORDERS, headers, userSellerLogin="l_l") == [order.id]
    assert await _ids(client, ORDERS, headers, userSellerLogin="buyer") == []
    assert await _ids(client, ORDERS, headers, id=platform_order.id) == [
        platform_order.id
    ]
    assert await _ids(client, ORDERS, headers, status="finished") == [platform_order.id]


@pytest.mark.parametrize("params", [{"status": "lost"}, {"orderType": "id"}])
async def test_orders_reject_unknown_values(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get(ORDERS, params=params, headers=headers)

    assert response.status_code == 422


async def test_finishing_order_pays_seller_once_and_audits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    admin: User,
    seller_order: tuple[Order, User, User],
) -> None:
    order, seller, _ = seller_order

    response = await client.patch(
        CHANGE_ORDER, json={"orderId": order.id, "status": "finished"}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "finished"
    assert (await user_balances(session, seller.id))[0] == 700
    await session.commit()
    entries = await audit_entries(session)
    assert len(entries) == 1
    assert entries[0].action == "order.status_changed"
    assert entries[0].actor_id == admin.id
    assert entries[0].old_values == {"status": "paid"}
    assert entries[0].new_values == {"status": "finished"}

    again = await client.patch(
        CHANGE_ORDER, json={"id": order.id, "status": "finished"}, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == 1013
    assert len(await audit_entries(session)) == 1


async def test_refund_returns_money_through_ledger(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers: dict[str, str],
) -> None:
    customer = await create_user(session)
    await fund(session, customer, settings, money=1000)
    pack = await create_product(session, seller=None, price=300, credits=25)
    order = await buy(session, customer, pack, settings)
    await session.commit()
    assert await user_balances(session, customer.id) == (700, 25)
    await session.commit()

    response = await client.patch(
        CHANGE_ORDER,
        json={"orderId": order.id, "status": OrderStatus.REFUNDED.value},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "refunded"
    assert await user_balances(session, customer.id) == (1000, 0)
    result = await check_ledger(session)
    await session.commit()
    assert result.ok
    assert len(await audit_entries(session)) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"orderId": 999999, "status": "canceled"}, 404),
        ({"orderId": 1, "status": "lost"}, 422),
        ({"status": "canceled"}, 422),
    ],
)
async def test_change_order_status_validates(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    body: dict[str, object],
    status: int,
) -> None:
    response = await client.patch(CHANGE_ORDER, json=body, headers=headers)

    assert response.status_code == status


async def test_illegal_order_transition_is_409(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    seller_order: tuple[Order, User, User],
) -> None:
    order, _, _ = seller_order

    response = await client.patch(
        CHANGE_ORDER, json={"orderId": order.id, "status": "refunded"}, headers=headers
    )

    assert response.status_code == 409
    assert await audit_entries(session) == []
