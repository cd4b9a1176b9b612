"""Purging a user's content while keeping the money records intact.

A purge removes, in the caller's transaction, the user's video jobs (their files are
deleted once the transaction commits), their chats with every message in them, their
support requests with their threads, and the ratings they wrote. Their products and
saved wallets are marked deleted rather than removed, because orders and finance
operations refer to them. Ledger accounts, transfers, orders and finance operations
are left untouched, so `mage-studio ledger check` still balances afterwards. The only
ledger effect is releasing the credit hold of a queued render, as deleting any queued
job does.
"""

from __future__ import annotations

from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.admin.repository import JOB_FILE_COLUMNS
from mage_studio.admin.schemas import PurgeResult
from mage_studio.admin.service import get_user
from mage_studio.billing.models import Product, UserRating, UserWallet
from mage_studio.core.audit import record_audit
from mage_studio.core.db import utcnow
from mage_studio.core.storage import Storage
from mage_studio.errors import InvalidTransition, ValidationFailed
from mage_studio.jobs import service as jobs
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.messaging.models import Chat, ChatMember, ChatMessage
from mage_studio.support.models import SupportMessage, SupportRequest
from mage_studio.users.models import User

log = structlog.get_logger(__name__)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


async def _purge_video_jobs(
    session: AsyncSession, storage: Storage, user: User
) -> tuple[int, int]:
    """Delete every job of `user` through the jobs service; return (jobs, files)."""
    rows = await session.scalars(
        select(VideoJob).where(VideoJob.user_id == user.id).order_by(VideoJob.id)
    )
    found = list(rows)
    rendering = [job.id for job in found if job.status == JobStatus.PROCESSING.value]
    if rendering:
        ids = ", ".join(str(job_id) for job_id in rendering)
        raise InvalidTransition(
            f"Video jobs {ids} are rendering. Cancel them and wait until they stop "
            "before purging."
        )
    files = 0
    for job in found:
        files += sum(1 for column in JOB_FILE_COLUMNS if getattr(job, column.key))
        await jobs.delete_job(session, storage, user, job.id)
    return len(found), files


async def _purge_chats(session: AsyncSession, user_id: int) -> tuple[int, int]:
    """Delete the user's chats and all their messages; return (chats, messages)."""
    chat_ids = list(
        await session.scalars(
            select(Chat.id).where(
                or_(Chat.low_user_id == user_id, Chat.high_user_id == user_id)
            )
        )
    )
    if not chat_ids:
        return 0, 0
    messages = await session.execute(
        delete(ChatMessage)
        .where(ChatMessage.chat_id.in_(chat_ids))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(ChatMember)
        .where(ChatMember.chat_id.in_(chat_ids))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(Chat)
        .where(Chat.id.in_(chat_ids))
        .execution_options(synchronize_session=False)
    )
    return len(chat_ids), _rowcount(messages)


async def _purge_support_requests(session: AsyncSession, user_id: int) -> int:
    request_ids = list(
        await session.scalars(
            select(SupportRequest.id).where(SupportRequest.author_id == user_id)
        )
    )
    if not request_ids:
        return 0
    await session.execute(
        delete(SupportMessage)
        .where(SupportMessage.request_id.in_(request_ids))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(SupportRequest)
        .where(SupportRequest.id.in_(request_ids))
        .execution_options(synchronize_session=False)
    )
    return len(request_ids)


async def _hide_billing_records(session: AsyncSession, user_id: int) -> dict[str, int]:
    """Mark products and wallets deleted and remove the user's ratings."""
    now = utcnow()
    products = await session.execute(
        update(Product)
        .where(Product.user_id == user_id, Product.deleted_at.is_(None))
        .values(deleted_at=now, active=False, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    wallets = await session.execute(
        update(UserWallet)
        .where(UserWallet.user_id == user_id, UserWallet.deleted_at.is_(None))
        .values(deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    ratings = await session.scalar(
        select(func.count())
        .select_from(UserRating)
        .where(UserRating.author_id == user_id)
    )
    await session.execute(
        delete(UserRating)
        .where(UserRating.author_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return {
        "products": _rowcount(products),
        "wallets": _rowcount(wallets),
        "ratings": int(ratings or 0),
    }


async def purge_user_data(
    session: AsyncSession, storage: Storage, admin: User, user_id: int
) -> PurgeResult:
    """Remove another user's content in the caller's transaction and audit it.

    The account itself stays. An admin cannot purge their own data (422), and a
    user with a rendering job is 409 until that render stops.
    """
    if user_id == admin.id:
        raise ValidationFailed.field("id", "You cannot purge your own data.")
    user = await get_user(session, user_id)

    video_jobs, files = await _purge_video_jobs(session, storage, user)
    chats, messages = await _purge_chats(session, user.id)
    support_requests = await _purge_support_requests(session, user.id)
    hidden = await _hide_billing_records(session, user.id)
    await session.flush()

    result = PurgeResult(
        userId=user.id,
        video_jobs=video_jobs,
        files=files,
        chats=chats,
        messages=messages,
        support_requests=support_requests,
        **hidden,
    )
    removed = result.model_dump(exclude={"userId"})
    await record_audit(
        session, admin, "user.data_purged", "user", user.id, removed, None
    )
    log.info("user_data_purged", user_id=user.id, admin_id=admin.id, **removed)
    return result
