"""Registration opens the ledger accounts and grants the sign-up credits once."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from mage_studio.app import create_app
from mage_studio.billing.service import check_ledger
from mage_studio.config import Settings
from tests.auth.factories import PASSWORD, bearer, login, register
from tests.conftest import make_settings

SIGNUP_CREDITS = 40


@pytest.fixture
async def granting_app(settings: Settings) -> FastAPI:
    return create_app(
        make_settings(
            settings.database_url,
            settings.storage_path,
            signup_credits=SIGNUP_CREDITS,
            rate_limit_enabled=False,
        )
    )


async def test_new_account_shows_signup_credits(
    granting_app: FastAPI, app: FastAPI
) -> None:
    transport = httpx.ASGITransport(app=granting_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as client:
        _, email = await register(client)
        tokens = await login(client, email, PASSWORD)
        me = await client.get("/api/auth/me", headers=bearer(tokens["accessToken"]))
        credits = await client.get(
            "/api/credits", headers=bearer(tokens["accessToken"])
        )
    await granting_app.state.database.dispose()

    assert me.status_code == 200
    assert me.json()["data"]["credits"] == SIGNUP_CREDITS
    assert me.json()["data"]["balance"] == 0
    assert credits.status_code == 200
    async with app.state.database.session() as session:
        report = await check_ledger(session)
    assert report.ok, report
