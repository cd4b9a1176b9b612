"""Orders over HTTP and the admin status changes of the service."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger
from mage_studio.billing.errors import InsufficientBalance, InsufficientCredits
from mage_studio.billing.ledger import Posting
from mage_studio.billing.models import AccountKind, Order, Product
from mage_studio.billing.orders import change_order_status
from mage_studio.config import Settings
from mage_studio.core.audit import AuditEntry
from mage_studio.errors import InvalidTransition, ValidationFailed
from mage_studio.users.models import User
from tests.billing.factories import available, create_product, fund
from tests.factories import auth_headers, create_admin, create_user


async def _order(
    client: httpx.AsyncClient,
    settings: Settings,
    customer: User,
    product_id: int,
    quantity: Any = 1,
) -> httpx.Response:
    return await client.post(
        "/api/orders",
        json={"productId": product_id, "quantity": quantity},
        headers=auth_headers(settings, customer),
    )


async def test_credit_pack_is_fulfilled_at_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    await fund(session, customer, money=5000)
    pack = await create_product(session, price=1500, credits=300, priority_tier=1)
    await session.commit()

    response = await _order(client, settings, customer, pack.id, 2)

    assert response.status_code == 201, response.text
    order = response.json()["data"]
    assert order["status"] == "finished"
    assert order["price"] == 1500
    assert order["totalPrice"] == 3000
    assert order["totalCredits"] == 600
    assert order["seller"] is None
    assert order["finishedAt"] is not None
    assert await available(session, customer) == (2000, 600)
    await session.refresh(customer)
    assert customer.priority_tier == 1
    assert (await ledger.check_ledger(session)).ok


async def test_order_snapshots_price(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    await fund(session, customer, money=5000)
    pack = await create_product(session, price=1000, credits=100)
    await session.commit()
    placed = await _order(client, settings, customer, pack.id)

    product = await session.get(Product, pack.id)
    assert product is not None
    product.price = 4000
    product.credits = 1
    await session.commit()
    shown = await client.get(
        f"/api/orders/{placed.json()['data']['id']}",
        headers=auth_headers(settings, customer),
    )

    assert shown.json()["data"]["price"] == 1000
    assert shown.json()["data"]["credits"] == 100


async def test_quantity_over_availability_is_400(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    seller = await create_user(session, roles=["seller"])
    customer = await create_user(session)
    await fund(session, customer, money=10_000)
    product = await create_product(session, seller=seller, price=10, availability=3)
    await session.commit()

    too_many = await _order(client, settings, customer, product.id, 4)
    all_of_them = await _order(client, settings, customer, product.id, 3)
    one_more = await _order(client, settings, customer, product.id, 1)

    assert too_many.status_code == 400
    assert too_many.json()["error"]["code"] == 1010
    assert all_of_them.status_code == 201
    assert one_more.status_code == 400
    await session.refresh(product)
    assert product.availability == 0


async def test_short_balance_is_402_and_keeps_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    await fund(session, customer, money=999)
    pack = await create_product(session, price=1000, credits=100, availability=5)
    await session.commit()

    response = await _order(client, settings, customer, pack.id)

    assert response.status_code == 402
    assert response.json()["error"]["code"] == 1012
    assert await available(session, customer) == (999, 0)
    assert list(await session.scalars(select(Order))) == []
    await session.refresh(pack)
    assert pack.availability == 5


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", 2**31, True])
async def test_invalid_quantity_is_422(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    quantity: object,
) -> None:
    customer = await create_user(session)
    pack = await create_product(session)
    await session.commit()

    response = await _order(client, settings, customer, pack.id, quantity)

    assert response.status_code == 422
    assert "quantity" in response.json()["error"]["validator"]


async def test_total_beyond_int64_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    pack = await create_product(session, price=2**62)
    await session.commit()

    response = await _order(client, settings, customer, pack.id, 2)

    assert response.status_code == 422


async def test_hidden_or_own_products_cannot_be_ordered(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    seller = await create_user(session, roles=["seller"])
    hidden = await create_product(session, active=False)
    own = await create_product(session, seller=seller)
    await session.commit()

    hidden_order = await _order(client, settings, seller, hidden.id)
    own_order = await _order(client, settings, seller, own.id)

    assert hidden_order.status_code == 404
    assert own_order.status_code == 400


async def test_seller_order_is_escrowed_until_confirmed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    seller = await create_user(session, roles=["seller"])
    customer = await create_user(session)
    await fund(session, customer, money=3000)
    product = await create_product(session, seller=seller, price=1200)
    await session.commit()
    customer_headers = auth_headers(settings, customer)
    seller_headers = auth_headers(settings, seller)

    placed = await _order(client, settings, customer, product.id)
    order_id = placed.json()["data"]["id"]
    assert placed.json()["data"]["status"] == "paid"
    assert await available(session, customer) == (1800, 0)
    assert await available(session, seller) == (0, 0)

    sales = await client.get("/api/orders/sales", headers=seller_headers)
    purchases = await client.get("/api/orders/purchases", headers=customer_headers)
    by_seller = await client.patch(
        "/api/orders/confirm-order", json={"orderId": order_id}, headers=seller_headers
    )
    confirmed = await client.patch(
        "/api/orders/confirm-order",
        json={"orderId": order_id},
        headers=customer_headers,
    )
    again = await client.patch(
        "/api/orders/confirm-order",
        json={"orderId": order_id},
        headers=customer_headers,
    )

    assert [item["id"] for item in sales.json()["data"]] == [order_id]
    assert [item["id"] for item in purchases.json()["data"]] == [order_id]
    assert by_seller.status_code == 404
    assert confirmed.status_code == 200
    assert confirmed.json()["data"]["status"] == "finished"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == 1013
    assert await available(session, seller) == (1200, 0)
    assert await available(session, customer) == (1800, 0)
    assert (await ledger.check_ledger(session)).ok


async def test_others_orders_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    intruder = await create_user(session)
    await fund(session, customer, money=3000)
    product = await create_product(session, seller=await create_user(session))
    await session.commit()
    placed = await _order(client, settings, customer, product.id)
    order_id = placed.json()["data"]["id"]
    headers = auth_headers(settings, intruder)

    shown = await client.get(f"/api/orders/{order_id}", headers=headers)
    confirmed = await client.patch(
        "/api/orders/confirm-order", json={"orderId": order_id}, headers=headers
    )
    purchases = await client.get("/api/orders/purchases", headers=headers)
    sales = await client.get("/api/orders/sales", headers=headers)

    assert shown.status_code == 404
    assert shown.json()["error"]["code"] == 1009
    assert confirmed.status_code == 404
    assert confirmed.json()["error"]["code"] == 1009
    assert purchases.json()["data"] == []
    assert sales.json()["data"] == []


async def _placed_order(
    session: AsyncSession, settings: Settings, *, seller: bool, credits: int = 0
) -> tuple[Order, User, User | None]:
    from mage_studio.billing.orders import place_order

    customer = await create_user(session)
    owner = await create_user(session, roles=["seller"]) if seller else None
    await fund(session, customer, money=1000)
    product = await create_product(
        session, seller=owner, price=400, credits=credits, availability=10
    )
    order = await place_order(
        session, customer, product_id=product.id, quantity=1, settings=settings
    )
    await session.commit()
    return order, customer, owner


async def test_admin_cancel_returns_escrow_and_items(
    session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    order, customer, _ = await _placed_order(session, settings, seller=True)

    await change_order_status(session, admin, order.id, "processing")
    await change_order_status(session, admin, order.id, "canceled")
    await session.commit()

    assert order.status == "canceled"
    assert await available(session, customer) == (1000, 0)
    product = await session.get(Product, order.product_id, populate_existing=True)
    assert product is not None
    assert product.availability == 10
    actions = list(await session.scalars(select(AuditEntry.new_values)))
    assert actions == [{"status": "processing"}, {"status": "canceled"}]
    assert (await ledger.check_ledger(session)).ok


async def test_admin_finish_pays_seller_once(
    session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    order, _, seller = await _placed_order(session, settings, seller=True)
    assert seller is not None

    await change_order_status(session, admin, order.id, "finished")
    with pytest.raises(InvalidTransition):
        await change_order_status(session, admin, order.id, "finished")
    await session.commit()

    assert await available(session, seller) == (400, 0)


async def test_refund_of_seller_order_takes_from_seller(
    session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    order, customer, seller = await _placed_order(session, settings, seller=True)
    assert seller is not None
    await change_order_status(session, admin, order.id, "finished")

    await change_order_status(session, admin, order.id, "refunded")
    await session.commit()

    assert await available(session, customer) == (1000, 0)
    assert await available(session, seller) == (0, 0)
    assert (await ledger.check_ledger(session)).ok


async def test_refund_of_spent_seller_money_is_402(
    session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    order, _, seller = await _placed_order(session, settings, seller=True)
    assert seller is not None
    await change_order_status(session, admin, order.id, "finished")
    accounts = await fund(session, seller)
    payouts = await ledger.system_account(session, AccountKind.PAYOUTS, "USD")
    await ledger.post_transfer(
        session,
        transfer_id="test:seller-withdraws",
        kind="withdrawal",
        postings=[
            Posting(accounts.balance.id, -300),
            Posting(payouts.id, 300),
        ],
    )
    await session.commit()

    with pytest.raises(InsufficientBalance):
        await change_order_status(session, admin, order.id, "refunded")


async def test_refund_of_credit_pack_takes_credits_back(
    session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    order, customer, _ = await _placed_order(
        session, settings, seller=False, credits=250
    )
    assert order.status == "finished"
    assert await available(session, customer) == (600, 250)

    await change_order_status(session, admin, order.id, "refunded")
    await session.commit()

    assert await available(session, customer) == (1000, 0)
    assert (await ledger.check_ledger(session)).ok


async def test_refund_of_spent_credits_is_402(
    session: AsyncSession, settings: Settings
) -> None:
    from mage_studio.billing import renders

    admin = await create_admin(session)
    order, customer, _ = await _placed_order(
        session, settings, seller=False, credits=250
    )
    await renders.reserve_render(
        session, user_id=customer.id, job_id=1, attempt_key="full", credits=1
    )
    await session.commit()

    with pytest.raises(InsufficientCredits):
        await change_order_status(session, admin, order.id, "refunded")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (["finished"], "paid"),
        (["finished"], "canceled"),
        (["canceled"], "paid"),
        (["canceled"], "refunded"),
        ([], "unpaid"),
        ([], "refunded"),
    ],
)
async def test_illegal_order_transitions_are_409(
    session: AsyncSession, settings: Settings, path: list[str], status: str
) -> None:
    admin = await create_admin(session)
    order, _, _ = await _placed_order(session, settings, seller=True)
    for step in path:
        await change_order_status(session, admin, order.id, step)

    with pytest.raises(InvalidTransition) as raised:
        await change_order_status(session, admin, order.id, status)
    assert raised.value.code == 1013


async def test_unknown_order_status_is_422(
    session: AsyncSession, settings: Settings
) -> None:
    admin = await create_admin(session)
    order, _, _ = await _placed_order(session, settings, seller=True)

    with pytest.raises(ValidationFailed):
        await change_order_status(session, admin, order.id, "shipped")
