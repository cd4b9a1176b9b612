"""Seed data for a new installation: catalogs, wallet types, credit packs.

Every seeder is idempotent, so `mage-studio seed` can run on each start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.domains import domain_modules

Seeder = Callable[[AsyncSession, Settings], Awaitable[None]]


def seeders() -> list[Seeder]:
    """Return the seeders of every domain, in domain order."""
    return [module.seed for module in domain_modules("seed")]


async def seed_all(session: AsyncSession, settings: Settings) -> list[str]:
    """Run every seeder in one transaction; return their names."""
    names = []
    for seeder in seeders():
        await seeder(session, settings)
        await session.flush()
        names.append(f"{seeder.__module__}.{seeder.__name__}")
    return names
