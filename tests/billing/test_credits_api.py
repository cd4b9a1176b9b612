"""The caller's balances, ledger entries and sign-up credits."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import renders
from mage_studio.billing.accounts import open_user_accounts, user_balances
from mage_studio.billing.models import LedgerTransfer
from mage_studio.config import Settings
from tests.billing.factories import fund
from tests.factories import auth_headers, create_user


async def test_credits_show_posted_held_available(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await fund(session, user, credits=500, money=250)
    await renders.reserve_render(
        session, user_id=user.id, job_id=1, attempt_key="full", credits=120
    )
    await session.commit()

    response = await client.get("/api/credits", headers=auth_headers(settings, user))

    assert response.status_code == 200
    body = response.json()
    assert body["data"]["credits"] == {
        "unit": "credits",
        "posted": 500,
        "held": 120,
        "available": 380,
    }
    assert body["data"]["balance"] == {
        "unit": "USD",
        "posted": 250,
        "held": 0,
        "available": 250,
    }
    entries = body["data"]["entries"]
    assert [(entry["account"], entry["amount"]) for entry in entries] == [
        ("balance", 250),
        ("credits", 500),
    ]
    assert entries[0]["kind"] == "test_grant"
    assert body["meta"]["total"] == 2


async def test_credits_entries_are_paged(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    for amount in (1, 2, 3):
        await fund(session, user, credits=amount)
    await session.commit()

    response = await client.get(
        "/api/credits?per_page=2&page=2", headers=auth_headers(settings, user)
    )

    assert [entry["amount"] for entry in response.json()["data"]["entries"]] == [1]
    assert response.json()["meta"]["last_page"] == 2


async def test_credits_need_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/credits")
    assert response.status_code == 401


async def test_signup_credits_are_granted_once(
    session: AsyncSession, settings: Settings
) -> None:
    generous = settings.model_copy(update={"signup_credits": 500})
    user = await create_user(session)

    await open_user_accounts(session, user.id, generous)
    await open_user_accounts(session, user.id, generous)
    await session.commit()

    assert await user_balances(session, user.id) == (0, 500)
    grants = await session.scalar(
        select(func.count())
        .select_from(LedgerTransfer)
        .where(LedgerTransfer.id == f"signup-credits:{user.id}")
    )
    assert grants == 1


async def test_first_billing_request_opens_accounts(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()
    app.state.settings.signup_credits = 40

    response = await client.get("/api/credits", headers=auth_headers(settings, user))

    assert response.json()["data"]["credits"]["available"] == 40
    assert await user_balances(session, user.id) == (0, 40)


async def test_user_balances_without_accounts(session: AsyncSession) -> None:
    user = await create_user(session)
    assert await user_balances(session, user.id) == (0, 0)
