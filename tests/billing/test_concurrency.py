"""Races on real connections: each task has its own session and transaction."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from mage_studio.billing import ledger, renders
from mage_studio.billing.errors import InsufficientCredits
from mage_studio.billing.models import LedgerHold
from mage_studio.config import Settings
from tests.billing.factories import (
    available,
    create_product,
    create_wallet_type,
    fund,
)
from tests.factories import auth_headers, create_admin, create_user

HOLDS = 50
AFFORDABLE = 10
HOLD_COST = 7


async def test_concurrent_holds_never_overdraw(app: FastAPI) -> None:
    database = app.state.database
    async with database.session() as session:
        user = await create_user(session)
        await fund(session, user, credits=AFFORDABLE * HOLD_COST + HOLD_COST - 1)

    async def reserve(job_id: int) -> LedgerHold | None:
        try:
            async with database.session() as session:
                return await renders.reserve_render(
                    session,
                    user_id=user.id,
                    job_id=job_id,
                    attempt_key="full",
                    credits=HOLD_COST,
                )
        except InsufficientCredits:
            return None

    results = await asyncio.gather(*(reserve(job_id) for job_id in range(HOLDS)))

    succeeded = [hold for hold in results if hold is not None]
    assert len(succeeded) == AFFORDABLE
    async with database.session() as session:
        assert await available(session, user) == (0, HOLD_COST - 1)
        check = await ledger.check_ledger(session)
        assert check.ok, check


async def test_two_admins_execute_enrolment_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    async with app.state.database.session() as session:
        user = await create_user(session)
        first_admin = await create_admin(session)
        second_admin = await create_admin(session)
        wallet_type = await create_wallet_type(session)
    created = await client.post(
        "/api/finance-operations",
        json={
            "money": 2500,
            "type": 1,
            "info": "PP-0001-2222",
            "typeId": wallet_type.id,
        },
        headers=auth_headers(settings, user),
    )
    assert created.status_code == 201, created.text
    operation_id = created.json()["data"]["id"]

    responses = await asyncio.gather(
        *(
            client.patch(
                "/api/finance-operations/change-finance-operation-status",
                json={"id": operation_id, "status": 2},
                headers=auth_headers(settings, admin),
            )
            for admin in (first_admin, second_admin, first_admin)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 409, 409]
    conflicts = [item.json() for item in responses if item.status_code == 409]
    assert all(body["error"]["code"] == 1013 for body in conflicts)
    async with app.state.database.session() as session:
        assert await available(session, user) == (2500, 0)
        assert (await ledger.check_ledger(session)).ok


async def test_confirm_order_twice_pays_seller_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    async with app.state.database.session() as session:
        seller = await create_user(session, roles=["seller"])
        customer = await create_user(session)
        await fund(session, customer, money=5000)
        product = await create_product(session, seller=seller, price=1200)
    placed = await client.post(
        "/api/orders",
        json={"productId": product.id, "quantity": 2},
        headers=auth_headers(settings, customer),
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["data"]["id"]

    responses = await asyncio.gather(
        *(
            client.patch(
                "/api/orders/confirm-order",
                json={"orderId": order_id},
                headers=auth_headers(settings, customer),
            )
            for _ in range(3)
        )
    )

    assert sorted(response.status_code for response in responses) == [200, 409, 409]
    async with app.state.database.session() as session:
        assert await available(session, seller) == (2400, 0)
        assert await available(session, customer) == (2600, 0)
        assert (await ledger.check_ledger(session)).ok
