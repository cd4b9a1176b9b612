"""Queries over support requests and their threads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.support.models import SupportMessage, SupportRequest
from mage_studio.support.schemas import SupportRequestSearch

LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so `text` matches itself literally (with ESCAPE '\\')."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def _lower_bound(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def _upper_bound(value: datetime | date) -> tuple[datetime, bool]:
    """Return the end of the range and whether it is inclusive.

    A date includes the whole day, so it ends before midnight of the next one.
    """
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)), True
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC), False


def _text_match(pattern: str, include_internal: bool) -> ColumnElement[bool]:
    """Requests whose email or thread contains the pattern.

    Internal notes are searched only for staff: otherwise a customer could probe
    their content one guess at a time.
    """
    message_match = exists().where(
        SupportMessage.request_id == SupportRequest.id,
        SupportMessage.body.ilike(pattern, escape=LIKE_ESCAPE),
    )
    if not include_internal:
        message_match = message_match.where(SupportMessage.internal.is_(False))
    return or_(
        SupportRequest.email.ilike(pattern, escape=LIKE_ESCAPE),
        message_match,
    )


def filtered(
    filters: SupportRequestSearch, *, include_internal: bool
) -> Select[tuple[SupportRequest]]:
    """Build the query for the requests that match every given filter."""
    statement = select(SupportRequest)
    if filters.id is not None:
        statement = statement.where(SupportRequest.id == filters.id)
    if filters.statusId is not None:
        statement = statement.where(SupportRequest.status_id == filters.statusId)
    if filters.userId is not None:
        statement = statement.where(SupportRequest.author_id == filters.userId)
    if filters.assigneeId is not None:
        statement = statement.where(SupportRequest.assignee_id == filters.assigneeId)
    if filters.startDate is not None:
        start = _lower_bound(filters.startDate)
        statement = statement.where(SupportRequest.created_at >= start)
    if filters.endDate is not None:
        end, inclusive = _upper_bound(filters.endDate)
        statement = statement.where(
            SupportRequest.created_at <= end
            if inclusive
            else SupportRequest.created_at < end
        )
    if filters.search:
        pattern = f"%{escape_like(filters.search)}%"
        statement = statement.where(_text_match(pattern, include_internal))
    return statement


async def search(
    session: AsyncSession,
    filters: SupportRequestSearch,
    *,
    include_internal: bool,
    offset: int,
    limit: int,
) -> tuple[Sequence[SupportRequest], int]:
    """Return one page of matching requests, newest first, and the total count."""
    statement = filtered(filters, include_internal=include_internal)
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    page = statement.order_by(
        SupportRequest.created_at.desc(), SupportRequest.id.desc()
    )
    rows = await session.scalars(page.offset(offset).limit(limit))
    return rows.all(), int(total or 0)


async def thread(
    session: AsyncSession, request_id: int, *, include_internal: bool
) -> Sequence[SupportMessage]:
    """Return a request's messages, oldest first."""
    statement = select(SupportMessage).where(SupportMessage.request_id == request_id)
    if not include_internal:
        statement = statement.where(SupportMessage.internal.is_(False))
    statement = statement.order_by(SupportMessage.created_at, SupportMessage.id)
    return (await session.scalars(statement)).all()
