"""Billing queries with joins, counts and allow-listed sorting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from mage_studio.billing.models import (
    Category,
    LedgerAccount,
    LedgerEntry,
    LedgerTransfer,
    Order,
    Product,
    UserRating,
)
from mage_studio.core.schemas import PageParams, SortDirection

ProductSort = Literal["id", "name", "price", "credits", "createdAt", "availability"]

PRODUCT_SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Product.id,
    "name": Product.name,
    "price": Product.price,
    "credits": Product.credits,
    "createdAt": Product.created_at,
    "availability": Product.availability,
}


async def _page(
    session: AsyncSession, query: Select[Any], page: PageParams
) -> tuple[list[Any], int]:
    total = await session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())
    )
    rows = await session.scalars(query.offset(page.offset).limit(page.per_page))
    return list(rows), int(total or 0)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def visible_products() -> ColumnElement[bool]:
    """Products anyone may see and buy: active and not deleted."""
    return and_(Product.active.is_(True), Product.deleted_at.is_(None))


async def search_products(
    session: AsyncSession,
    page: PageParams,
    *,
    category_id: int | None,
    name: str | None,
    order_type: ProductSort,
    order_direction: SortDirection,
) -> tuple[list[Product], int]:
    query = select(Product).where(visible_products())
    if category_id is not None:
        query = query.where(Product.category_id == category_id)
    if name:
        query = query.where(Product.name.ilike(f"%{_escape_like(name)}%", escape="\\"))
    column = PRODUCT_SORT_COLUMNS[order_type]
    ordering = column.desc() if order_direction == "desc" else column.asc()
    query = query.order_by(ordering, Product.id.asc())
    return await _page(session, query, page)


async def products_managed_by(
    session: AsyncSession, page: PageParams, *, user_id: int | None
) -> tuple[list[Product], int]:
    """Products of one seller, or the platform's when `user_id` is None."""
    owner = Product.user_id.is_(None) if user_id is None else Product.user_id == user_id
    query = (
        select(Product)
        .where(owner, Product.deleted_at.is_(None))
        .order_by(Product.id.desc())
    )
    return await _page(session, query, page)


async def categories_with_counts(
    session: AsyncSession,
    *,
    category_id: int | None = None,
    seller_id: int | None = None,
) -> list[tuple[Category, int]]:
    """Categories with the number of visible products in each.

    With `seller_id`, only categories holding that seller's products, counted for
    that seller alone.
    """
    condition = and_(Product.category_id == Category.id, visible_products())
    if seller_id is not None:
        condition = and_(condition, Product.user_id == seller_id)
    count = func.count(Product.id)
    query = (
        select(Category, count)
        .outerjoin(Product, condition)
        .group_by(Category.id)
        .order_by(Category.id)
    )
    if category_id is not None:
        query = query.where(Category.id == category_id)
    if seller_id is not None:
        query = query.having(count > 0)
    rows = await session.execute(query)
    return [(category, int(total)) for category, total in rows]


@dataclass(frozen=True)
class EntryRow:
    entry: LedgerEntry
    transfer_kind: str
    memo: str | None
    account_kind: str
    unit: str


async def account_entries(
    session: AsyncSession, account_ids: list[int], page: PageParams
) -> tuple[list[EntryRow], int]:
    """Return a page of the entries of some accounts, newest first, and the total."""
    condition = LedgerEntry.account_id.in_(account_ids)
    total = await session.scalar(
        select(func.count()).select_from(LedgerEntry).where(condition)
    )
    rows = await session.execute(
        select(
            LedgerEntry,
            LedgerTransfer.kind,
            LedgerTransfer.memo,
            LedgerAccount.kind,
            LedgerAccount.unit,
        )
        .join(LedgerTransfer, LedgerTransfer.id == LedgerEntry.transfer_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(condition)
        .order_by(LedgerEntry.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    entries = [EntryRow(*row) for row in rows]
    return entries, int(total or 0)


async def orders_page(
    session: AsyncSession,
    page: PageParams,
    *,
    customer_id: int | None = None,
    seller_id: int | None = None,
) -> tuple[list[Order], int]:
    query = select(Order).order_by(Order.id.desc())
    if customer_id is not None:
        query = query.where(Order.customer_id == customer_id)
    if seller_id is not None:
        query = query.where(Order.seller_id == seller_id)
    return await _page(session, query, page)


async def ratings_page(
    session: AsyncSession, page: PageParams, *, user_id: int
) -> tuple[list[UserRating], int]:
    query = (
        select(UserRating)
        .where(UserRating.user_id == user_id)
        .order_by(UserRating.id.desc())
    )
    return await _page(session, query, page)
