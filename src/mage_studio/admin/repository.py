"""Queries of the administration routes: filtered lists, content counts, status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from mage_studio.admin.schemas import (
    AuditFilters,
    DataStats,
    FinanceFilters,
    OrderFilters,
    UserFilters,
    VideoJobFilters,
)
from mage_studio.billing.models import FinanceOperation, Order, Product
from mage_studio.core.audit import AuditEntry
from mage_studio.core.db import utcnow
from mage_studio.core.schemas import PageParams
from mage_studio.jobs.models import VideoJob
from mage_studio.messaging.models import Chat, ChatMessage
from mage_studio.queue.models import Worker
from mage_studio.support.models import SupportRequest
from mage_studio.users.models import Role, User, UserRole

LIKE_ESCAPE = "\\"

# Storage keys of the files a video job owns.
JOB_FILE_COLUMNS: tuple[InstrumentedAttribute[str | None], ...] = (
    VideoJob.source_key,
    VideoJob.soundtrack_key,
    VideoJob.video_key,
    VideoJob.preview_img_key,
    VideoJob.preview_animation_key,
    VideoJob.thumbnail_key,
    VideoJob.last_frame_key,
)

FINANCE_SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": FinanceOperation.id,
    "money": FinanceOperation.money,
    "type": FinanceOperation.type,
    "status": FinanceOperation.status,
    "createdAt": FinanceOperation.created_at,
    "executedAt": FinanceOperation.executed_at,
}


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so that `text` matches itself literally."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match of literal `text` (wildcards escaped)."""
    condition: ColumnElement[bool] = column.ilike(
        f"%{escape_like(text)}%", escape=LIKE_ESCAPE
    )
    return condition


def _start_of(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def created_between(
    column: Any, start: datetime | date | None, end: datetime | date | None
) -> list[ColumnElement[bool]]:
    """Conditions for an inclusive range; a bare end date includes that whole day."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= _start_of(start))
    if isinstance(end, datetime):
        conditions.append(column <= _start_of(end))
    elif end is not None:
        conditions.append(column < _start_of(end + timedelta(days=1)))
    return conditions


async def fetch_page(
    session: AsyncSession, query: Select[Any], page: PageParams
) -> tuple[list[Any], int]:
    """Return one page of `query`'s rows and the total number of rows."""
    total = await session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())
    )
    result = await session.execute(query.offset(page.offset).limit(page.per_page))
    return list(result.all()), int(total or 0)


# --- users -----------------------------------------------------------------------


def _role_condition(role: Role) -> ColumnElement[bool]:
    holds = exists().where(UserRole.user_id == User.id, UserRole.role == role.value)
    if role is not Role.USER:
        return holds
    # An account without role rows is a plain user.
    return or_(holds, ~exists().where(UserRole.user_id == User.id))


async def search_users(
    session: AsyncSession, filters: UserFilters
) -> tuple[list[User], int]:
    """Return a page of users matching the filters, oldest first, and the total."""
    query = select(User).order_by(User.id)
    if filters.search:
        query = query.where(
            or_(
                contains(User.login, filters.search),
                contains(User.email, filters.search),
            )
        )
    if filters.role is not None:
        query = query.where(_role_condition(filters.role))
    rows, total = await fetch_page(session, query, filters.page_params())
    return [row[0] for row in rows], total


async def _grouped_counts(session: AsyncSession, query: Select[Any]) -> dict[int, int]:
    rows = await session.execute(query)
    return {int(owner): int(count or 0) for owner, count in rows.tuples()}


def _count_by(column: Any, ids: Sequence[int], *conditions: Any) -> Select[Any]:
    return (
        select(column, func.count())
        .where(column.in_(ids), *conditions)
        .group_by(column)
    )


def _orders_by_user(ids: Sequence[int]) -> Select[Any]:
    # An order counts once for each side the user is on.
    sides = union(
        select(Order.customer_id.label("owner"), Order.id.label("order_id")).where(
            Order.customer_id.in_(ids)
        ),
        select(Order.seller_id.label("owner"), Order.id.label("order_id")).where(
            Order.seller_id.in_(ids)
        ),
    ).subquery()
    return select(sides.c.owner, func.count()).group_by(sides.c.owner)


def _chats_by_user(ids: Sequence[int]) -> Select[Any]:
    members = union_all(
        select(Chat.low_user_id.label("owner")).where(Chat.low_user_id.in_(ids)),
        select(Chat.high_user_id.label("owner")).where(Chat.high_user_id.in_(ids)),
    ).subquery()
    return select(members.c.owner, func.count()).group_by(members.c.owner)


def _media_by_user(ids: Sequence[int]) -> Select[Any]:
    files: ColumnElement[int] = literal(0)
    for column in JOB_FILE_COLUMNS:
        files = files + case((column.is_not(None), 1), else_=0)
    return (
        select(VideoJob.user_id, func.sum(files))
        .where(VideoJob.user_id.in_(ids))
        .group_by(VideoJob.user_id)
    )


async def data_stats(
    session: AsyncSession, user_ids: Sequence[int]
) -> dict[int, DataStats]:
    """Count each user's content, a few grouped queries for all of `user_ids`."""
    ids = list(user_ids)
    queries = {
        "video_jobs": _count_by(VideoJob.user_id, ids),
        "products": _count_by(Product.user_id, ids, Product.deleted_at.is_(None)),
        "orders": _orders_by_user(ids),
        "finance_operations": _count_by(FinanceOperation.user_id, ids),
        "messages": _count_by(ChatMessage.author_id, ids),
        "chats": _chats_by_user(ids),
        "support_requests": _count_by(SupportRequest.author_id, ids),
        "media": _media_by_user(ids),
    }
    counts: dict[str, dict[int, int]] = {}
    for name, query in queries.items():
        counts[name] = await _grouped_counts(session, query) if ids else {}
    return {
        user_id: DataStats(
            **{name: per_user.get(user_id, 0) for name, per_user in counts.items()}
        )
        for user_id in ids
    }


# --- finance operations and orders -----------------------------------------------


async def search_finance_operations(
    session: AsyncSession, filters: FinanceFilters
) -> tuple[list[tuple[FinanceOperation, User]], int]:
    """Return a page of every user's finance operations with their owners."""
    query = select(FinanceOperation, User).join(
        User, User.id == FinanceOperation.user_id
    )
    if filters.id is not None:
        query = query.where(FinanceOperation.id == filters.id)
    if filters.userLogin:
        query = query.where(contains(User.login, filters.userLogin))
    if filters.statusId is not None:
        query = query.where(FinanceOperation.status == filters.statusId)
    query = query.where(
        *created_between(
            FinanceOperation.created_at, filters.startDate, filters.endDate
        )
    )
    column = FINANCE_SORT_COLUMNS[filters.orderType]
    ordering = column.desc() if filters.orderDirection == "desc" else column.asc()
    tiebreak = (
        FinanceOperation.id.desc()
        if filters.orderDirection == "desc"
        else FinanceOperation.id.asc()
    )
    query = query.order_by(ordering, tiebreak)
    rows, total = await fetch_page(session, query, filters.page_params())
    return [(row[0], row[1]) for row in rows], total


async def search_orders(
    session: AsyncSession, filters: OrderFilters
) -> tuple[list[Order], int]:
    """Return a page of every order, newest first, and the total."""
    query = select(Order).order_by(Order.id.desc())
    if filters.id is not None:
        query = query.where(Order.id == filters.id)
    if filters.status is not None:
        query = query.where(Order.status == filters.status.value)
    if filters.userCustomerLogin:
        customer = aliased(User)
        query = query.join(customer, customer.id == Order.customer_id).where(
            contains(customer.login, filters.userCustomerLogin)
        )
    if filters.userSellerLogin:
        seller = aliased(User)
        query = query.join(seller, seller.id == Order.seller_id).where(
            contains(seller.login, filters.userSellerLogin)
        )
    rows, total = await fetch_page(session, query, filters.page_params())
    return [row[0] for row in rows], total


# --- content ---------------------------------------------------------------------


async def search_video_jobs(
    session: AsyncSession, filters: VideoJobFilters
) -> tuple[list[VideoJob], int]:
    """Return a page of every user's video jobs, newest first, and the total."""
    query = select(VideoJob).order_by(VideoJob.created_at.desc(), VideoJob.id.desc())
    if filters.userId is not None:
        query = query.where(VideoJob.user_id == filters.userId)
    if filters.status is not None:
        query = query.where(VideoJob.status == filters.status.value)
    if filters.generator is not None:
        query = query.where(VideoJob.generator == filters.generator.value)
    rows, total = await fetch_page(session, query, filters.page_params())
    return [row[0] for row in rows], total


# --- audit log -------------------------------------------------------------------


async def search_audit_log(
    session: AsyncSession, filters: AuditFilters
) -> tuple[list[tuple[AuditEntry, User | None]], int]:
    """Return a page of audit entries, newest first, with their actors."""
    query = (
        select(AuditEntry, User)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id.desc())
    )
    conditions = [
        (filters.actor, AuditEntry.actor_id),
        (filters.action, AuditEntry.action),
        (filters.target_type, AuditEntry.target_type),
        (filters.target_id, AuditEntry.target_id),
    ]
    for value, column in conditions:
        if value is not None:
            query = query.where(column == value)
    rows, total = await fetch_page(session, query, filters.page_params())
    return [(row[0], row[1]) for row in rows], total


# --- status ----------------------------------------------------------------------


async def job_counts_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(VideoJob.status, func.count()).group_by(VideoJob.status)
    )
    return {str(status): int(count) for status, count in rows.tuples()}


async def live_workers(session: AsyncSession, live_seconds: int) -> list[str]:
    """Return the names of workers seen within the last `live_seconds`."""
    since = utcnow() - timedelta(seconds=live_seconds)
    names = await session.scalars(
        select(Worker.name)
        .where(and_(Worker.last_seen_at.is_not(None), Worker.last_seen_at >= since))
        .order_by(Worker.name)
    )
    return list(names)
