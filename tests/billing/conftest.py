"""Fixtures of the billing tests: a user, an admin and a wallet type, committed."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.models import WalletType
from mage_studio.users.models import User
from tests.billing.factories import create_wallet_type
from tests.factories import create_admin, create_user


@pytest.fixture
async def user(session: AsyncSession) -> User:
    created = await create_user(session)
    await session.commit()
    return created


@pytest.fixture
async def admin(session: AsyncSession) -> User:
    created = await create_admin(session)
    await session.commit()
    return created


@pytest.fixture
async def wallet_type(session: AsyncSession) -> WalletType:
    created = await create_wallet_type(session)
    await session.commit()
    return created
