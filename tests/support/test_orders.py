"""A support request may refer only to an order the caller bought or sold."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.models import Order
from mage_studio.config import Settings
from mage_studio.users.models import User
from tests.billing.factories import create_product
from tests.factories import auth_headers, create_user


async def _order(session: AsyncSession, customer: User, seller: User | None) -> Order:
    product = await create_product(session, seller=seller, price=500)
    order = Order(
        customer_id=customer.id,
        seller_id=seller.id if seller else None,
        product_id=product.id,
        product_name=product.name,
        quantity=1,
        unit_price=500,
        unit_credits=0,
        total_price=500,
        total_credits=0,
        status="paid",
    )
    session.add(order)
    await session.flush()
    return order


async def _open(
    client: httpx.AsyncClient, settings: Settings, user: User, order_id: int
) -> httpx.Response:
    return await client.post(
        "/api/support-request",
        json={"text": "Where are my credits?", "subject": 3, "orderId": order_id},
        headers=auth_headers(settings, user),
    )


async def test_own_order_is_accepted(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    seller = await create_user(session)
    order = await _order(session, customer, seller)
    await session.commit()

    as_customer = await _open(client, settings, customer, order.id)
    as_seller = await _open(client, settings, seller, order.id)

    assert as_customer.status_code == 201
    assert as_customer.json()["data"]["order_id"] == order.id
    assert as_seller.status_code == 201


async def test_foreign_or_unknown_order_is_1009(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    stranger = await create_user(session)
    order = await _order(session, customer, None)
    await session.commit()

    foreign = await _open(client, settings, stranger, order.id)
    unknown = await _open(client, settings, customer, order.id + 100)

    assert foreign.status_code == 400
    assert foreign.json()["error"]["code"] == 1009
    assert unknown.status_code == 400
    assert unknown.json()["error"] == foreign.json()["error"]
