"""Reference data: wallet types and the platform's credit packs.

Credit packs belong to the platform (products without a seller). Their prices are in
minor units of the configured currency and assume a currency with cents.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.catalog import category_by_slug
from mage_studio.billing.models import Category, Product, WalletType
from mage_studio.config import Settings

WALLET_TYPES = (
    ("PayPal", "paypal"),
    ("Stripe", "stripe"),
    ("Bank card", "bank-card"),
    ("Personal balance", "personal-balance"),
)
CREDIT_PACKS_SLUG = "credit-packs"
# (name, description, price in minor units, credits, priority tier)
CREDIT_PACKS = (
    ("Starter pack", "100 GPU credits for a few short renders.", 500, 100, None),
    ("Creator pack", "600 GPU credits.", 2500, 600, None),
    ("Studio pack", "3000 GPU credits.", 10000, 3000, None),
    (
        "Studio priority pack",
        "3000 GPU credits, and your renders move up one queue.",
        15000,
        3000,
        1,
    ),
)


async def _seed_wallet_types(session: AsyncSession) -> None:
    existing = set(await session.scalars(select(WalletType.name)))
    for name, symbol in WALLET_TYPES:
        if name not in existing:
            session.add(WalletType(name=name, symbol=symbol))


async def _seed_credit_packs(session: AsyncSession) -> None:
    category = await category_by_slug(session, CREDIT_PACKS_SLUG)
    if category is None:
        category = Category(
            name="Credit packs",
            slug=CREDIT_PACKS_SLUG,
            description="GPU credits for renders, sold by the platform.",
        )
        session.add(category)
        await session.flush()
    existing = set(
        await session.scalars(
            select(Product.name).where(
                Product.category_id == category.id, Product.user_id.is_(None)
            )
        )
    )
    for name, description, price, credits, tier in CREDIT_PACKS:
        if name in existing:
            continue
        session.add(
            Product(
                category_id=category.id,
                name=name,
                description=description,
                price=price,
                credits=credits,
                priority_tier=tier,
                active=True,
            )
        )


async def seed(session: AsyncSession, settings: Settings) -> None:
    """Insert the wallet types and credit packs that are missing."""
    await _seed_wallet_types(session)
    await _seed_credit_packs(session)
    await session.flush()
