"""Ratings of sellers by the customers of their finished orders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.errors import OrderNotFound
from mage_studio.billing.models import Order, OrderStatus, UserRating
from mage_studio.errors import Conflict, ValidationFailed
from mage_studio.users.models import User


async def rate_order(
    session: AsyncSession, author: User, *, order_id: int, rating: int, text: str
) -> UserRating:
    """Rate the seller of the author's finished order; once per order (409 after)."""
    order = await session.get(Order, order_id)
    if order is None or order.customer_id != author.id:
        raise OrderNotFound()
    if order.status != OrderStatus.FINISHED:
        raise Conflict("Only finished orders can be rated.")
    if order.seller_id is None:
        raise ValidationFailed.field(
            "orderId", "Orders from the platform have no seller to rate."
        )
    existing = await session.scalar(
        select(UserRating.id).where(UserRating.order_id == order.id)
    )
    if existing is not None:
        raise Conflict("This order has already been rated.")
    entry = UserRating(
        order_id=order.id,
        author=author,
        user_id=order.seller_id,
        rating=rating,
        text=text,
    )
    session.add(entry)
    await session.flush()
    return entry
