"""Fixtures of the billing tests: a wallet type, committed."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.models import WalletType
from tests.billing.factories import create_wallet_type


@pytest.fixture
async def wallet_type(session: AsyncSession) -> WalletType:
    created = await create_wallet_type(session)
    await session.commit()
    return created
