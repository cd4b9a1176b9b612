"""Factories for billing tests: funded accounts, catalog rows, wallets."""

from __future__ import annotations

import itertools
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger
from mage_studio.billing.accounts import (
    UserAccounts,
    ensure_user_accounts,
    user_balances,
)
from mage_studio.billing.ledger import Posting
from mage_studio.billing.models import (
    CREDITS_UNIT,
    AccountKind,
    Category,
    Product,
    WalletType,
)
from mage_studio.users.models import User

CURRENCY = "USD"
_counter = itertools.count(1)


async def fund(
    session: AsyncSession, user: User | int, *, credits: int = 0, money: int = 0
) -> UserAccounts:
    """Give a user credits and money from the issuance accounts, and flush."""
    user_id = user if isinstance(user, int) else user.id
    accounts = await ensure_user_accounts(session, user_id, CURRENCY)
    for amount, account, unit in (
        (credits, accounts.credits, CREDITS_UNIT),
        (money, accounts.balance, CURRENCY),
    ):
        if not amount:
            continue
        issuance = await ledger.system_account(session, AccountKind.ISSUANCE, unit)
        await ledger.post_transfer(
            session,
            transfer_id=f"test-grant:{uuid.uuid4()}",
            kind="test_grant",
            postings=[Posting(issuance.id, -amount), Posting(account.id, amount)],
        )
    return accounts


async def create_category(
    session: AsyncSession, *, name: str | None = None, parent: Category | None = None
) -> Category:
    number = next(_counter)
    category = Category(
        name=name or f"Category {number}",
        slug=f"category-{number}-{uuid.uuid4().hex[:8]}",
        description="Things to buy.",
        parent_id=parent.id if parent else None,
    )
    session.add(category)
    await session.flush()
    return category


async def create_product(
    session: AsyncSession,
    *,
    category: Category | None = None,
    seller: User | None = None,
    name: str | None = None,
    price: int = 1000,
    credits: int = 0,
    priority_tier: int | None = None,
    availability: int | None = None,
    active: bool = True,
) -> Product:
    """Insert a product; without `seller` it belongs to the platform."""
    category = category or await create_category(session)
    product = Product(
        category_id=category.id,
        user=seller,
        name=name or f"Product {next(_counter)}",
        description="A product.",
        price=price,
        credits=credits,
        priority_tier=priority_tier,
        availability=availability,
        active=active,
    )
    session.add(product)
    await session.flush()
    return product


async def create_wallet_type(session: AsyncSession, name: str = "PayPal") -> WalletType:
    wallet_type = WalletType(name=f"{name} {next(_counter)}", symbol="paypal")
    session.add(wallet_type)
    await session.flush()
    return wallet_type


async def available(session: AsyncSession, user: User | int) -> tuple[int, int]:
    """Return (money, credits) available to the user, read fresh.

    Commits, because on SQLite an open transaction blocks every other writer, the
    API requests of the test included.
    """
    user_id = user if isinstance(user, int) else user.id
    balances = await user_balances(session, user_id)
    await session.commit()
    return balances
