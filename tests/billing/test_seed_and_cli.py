"""Seed data and the `mage-studio ledger check` command."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from mage_studio.billing.models import Category, Product, WalletType
from mage_studio.billing.seed import CREDIT_PACKS, WALLET_TYPES, seed
from mage_studio.cli import app as cli_app
from mage_studio.config import Settings, get_settings
from tests.billing.factories import fund
from tests.factories import create_user


async def test_seed_is_idempotent(session: AsyncSession, settings: Settings) -> None:
    await seed(session, settings)
    await seed(session, settings)
    await session.commit()

    wallet_types = await session.scalar(select(func.count()).select_from(WalletType))
    categories = await session.scalar(select(func.count()).select_from(Category))
    packs = list(await session.scalars(select(Product).order_by(Product.id)))
    assert wallet_types == len(WALLET_TYPES)
    assert categories == 1
    assert len(packs) == len(CREDIT_PACKS)
    assert all(pack.user_id is None for pack in packs)
    assert all(pack.credits > 0 for pack in packs)


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MAGE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


async def test_ledger_check_command(cli_database: str, session: AsyncSession) -> None:
    runner = CliRunner()
    user = await create_user(session)
    accounts = await fund(session, user, credits=10)
    await session.commit()

    # The command runs its own event loop, so it gets a thread of its own.
    clean = await asyncio.to_thread(runner.invoke, cli_app, ["ledger", "check"])
    await session.execute(
        text("UPDATE ledger_accounts SET held = 3 WHERE id = :id"),
        {"id": accounts.credits.id},
    )
    await session.commit()
    broken = await asyncio.to_thread(runner.invoke, cli_app, ["ledger", "check"])

    assert clean.exit_code == 0, clean.output
    assert "Ledger OK" in clean.output
    assert broken.exit_code == 1
    assert f"account {accounts.credits.id} " in broken.output
    assert f"Accounts out of balance: {accounts.credits.id}" in broken.output
