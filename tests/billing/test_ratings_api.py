"""Seller ratings over HTTP."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.models import Order
from mage_studio.billing.orders import confirm_order, place_order
from mage_studio.config import Settings
from mage_studio.users.models import User
from tests.billing.factories import create_product, fund
from tests.factories import auth_headers, create_user


async def _order(
    session: AsyncSession, settings: Settings, *, confirm: bool = True
) -> tuple[Order, User, User]:
    seller = await create_user(session, roles=["seller"])
    customer = await create_user(session)
    await fund(session, customer, money=100)
    product = await create_product(session, seller=seller, price=100)
    order = await place_order(
        session, customer, product_id=product.id, quantity=1, settings=settings
    )
    if confirm:
        await confirm_order(session, customer, order.id)
    await session.commit()
    return order, customer, seller


async def _rate(
    client: httpx.AsyncClient,
    settings: Settings,
    author: User,
    order_id: int,
    rating: object = 5,
) -> httpx.Response:
    return await client.post(
        "/api/user-ratings",
        json={"orderId": order_id, "rating": rating, "text": " Fast and friendly. "},
        headers=auth_headers(settings, author),
    )


async def test_customer_rates_finished_order_once(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    order, customer, seller = await _order(session, settings)

    first = await _rate(client, settings, customer, order.id, 4)
    second = await _rate(client, settings, customer, order.id, 1)
    public = await client.get(f"/api/user-ratings/{seller.id}")
    own = await client.get("/api/user-ratings", headers=auth_headers(settings, seller))

    assert first.status_code == 201, first.text
    assert first.json()["data"]["rating"] == 4
    assert first.json()["data"]["text"] == "Fast and friendly."
    assert first.json()["data"]["userId"] == seller.id
    assert first.json()["data"]["author"]["id"] == customer.id
    assert second.status_code == 409
    assert [item["rating"] for item in public.json()["data"]] == [4]
    assert own.json()["meta"]["total"] == 1


async def test_unfinished_order_cannot_be_rated(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    order, customer, _ = await _order(session, settings, confirm=False)

    response = await _rate(client, settings, customer, order.id)

    assert response.status_code == 409


async def test_only_the_customer_rates(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    order, _, seller = await _order(session, settings)

    by_seller = await _rate(client, settings, seller, order.id)

    assert by_seller.status_code == 404
    assert by_seller.json()["error"]["code"] == 1009


@pytest.mark.parametrize("rating", [0, 6, 4.5, "5"])
async def test_rating_must_be_one_to_five(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    rating: object,
) -> None:
    order, customer, _ = await _order(session, settings)

    response = await _rate(client, settings, customer, order.id, rating)

    assert response.status_code == 422
    assert "rating" in response.json()["error"]["validator"]
