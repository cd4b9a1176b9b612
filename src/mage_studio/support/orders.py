"""Whether a user may refer to an order, checked through the billing domain."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.models import Order


async def is_own_order(session: AsyncSession, user_id: int, order_id: int) -> bool:
    """Return True when the user bought or sold the order."""
    statement = select(Order.id).where(
        Order.id == order_id,
        or_(Order.customer_id == user_id, Order.seller_id == user_id),
    )
    return await session.scalar(statement) is not None
