"""Factories for support requests and their threads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import utcnow
from mage_studio.support.catalog import SupportStatus
from mage_studio.support.models import SupportMessage, SupportRequest
from mage_studio.users.models import User


async def create_support_request(
    session: AsyncSession,
    author: User,
    text: str = "My render is stuck at 40%.",
    *,
    subject_id: int = 1,
    status: SupportStatus = SupportStatus.OPEN,
    email: str | None = None,
    assignee: User | None = None,
    created_at: datetime | None = None,
) -> SupportRequest:
    """Insert a request with `text` as its first message, and flush."""
    created_at = created_at or utcnow()
    request = SupportRequest(
        author_id=author.id,
        subject_id=subject_id,
        status_id=int(status),
        email=email,
        assignee_id=assignee.id if assignee else None,
        created_at=created_at,
        updated_at=created_at,
    )
    session.add(request)
    await session.flush()
    await add_support_message(session, request, author, text)
    return request


async def add_support_message(
    session: AsyncSession,
    request: SupportRequest,
    author: User,
    text: str,
    *,
    internal: bool = False,
) -> SupportMessage:
    message = SupportMessage(
        request_id=request.id, author_id=author.id, body=text, internal=internal
    )
    session.add(message)
    await session.flush()
    return message
