"""Queries over chats and messages, ordered by the (created_at, id) message key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mage_studio.messaging.cursor import CursorKey
from mage_studio.messaging.models import Chat, ChatMember, ChatMessage
from mage_studio.users.models import User


def ordered_pair(first_user_id: int, second_user_id: int) -> tuple[int, int]:
    return min(first_user_id, second_user_id), max(first_user_id, second_user_id)


async def chat_between(
    session: AsyncSession, first_user_id: int, second_user_id: int
) -> Chat | None:
    low, high = ordered_pair(first_user_id, second_user_id)
    statement = select(Chat).where(Chat.low_user_id == low, Chat.high_user_id == high)
    chat: Chat | None = await session.scalar(statement)
    return chat


async def chats_of(session: AsyncSession, user_id: int) -> Sequence[Chat]:
    statement = (
        select(Chat)
        .join(ChatMember, ChatMember.chat_id == Chat.id)
        .where(ChatMember.user_id == user_id)
    )
    return (await session.scalars(statement)).all()


async def member(session: AsyncSession, chat_id: int, user_id: int) -> ChatMember:
    row = await session.get(ChatMember, (chat_id, user_id))
    assert row is not None, "every chat has a member row per user"
    return row


async def users_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, User]:
    unique_ids = set(ids)
    if not unique_ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(unique_ids)))
    return {user.id: user for user in rows}


def before_key(key: CursorKey) -> ColumnElement[bool]:
    """Messages strictly older than `key`."""
    return or_(
        ChatMessage.created_at < key.created_at,
        and_(
            ChatMessage.created_at == key.created_at,
            ChatMessage.id < key.message_id,
        ),
    )


async def messages_page(
    session: AsyncSession, chat_id: int, before: CursorKey | None, limit: int
) -> Sequence[ChatMessage]:
    """Return up to `limit` messages of a chat, newest first, older than `before`."""
    statement = select(ChatMessage).where(ChatMessage.chat_id == chat_id)
    if before is not None:
        statement = statement.where(before_key(before))
    statement = statement.order_by(
        ChatMessage.created_at.desc(), ChatMessage.id.desc()
    ).limit(limit)
    return (await session.scalars(statement)).all()


async def last_messages(
    session: AsyncSession, chat_ids: Sequence[int]
) -> dict[int, ChatMessage]:
    """Return the newest message of each chat that has one."""
    if not chat_ids:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=ChatMessage.chat_id,
            order_by=(ChatMessage.created_at.desc(), ChatMessage.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(ChatMessage, rank).where(ChatMessage.chat_id.in_(chat_ids)).subquery()
    )
    newest = aliased(ChatMessage, ranked)
    rows = await session.scalars(select(newest).where(ranked.c.rank == 1))
    return {message.chat_id: message for message in rows}


async def unread_counts(
    session: AsyncSession, user_id: int, chat_ids: Sequence[int]
) -> dict[int, int]:
    """Count, per chat, the visible messages of others after the user's last-read."""
    if not chat_ids:
        return {}
    unread_after_mark = or_(
        ChatMember.last_read_at.is_(None),
        ChatMessage.created_at > ChatMember.last_read_at,
        and_(
            ChatMessage.created_at == ChatMember.last_read_at,
            ChatMessage.id > ChatMember.last_read_message_id,
        ),
    )
    statement = (
        select(ChatMessage.chat_id, func.count())
        .join(
            ChatMember,
            and_(
                ChatMember.chat_id == ChatMessage.chat_id,
                ChatMember.user_id == user_id,
            ),
        )
        .where(
            ChatMessage.chat_id.in_(chat_ids),
            ChatMessage.author_id != user_id,
            ChatMessage.hidden.is_(False),
            unread_after_mark,
        )
        .group_by(ChatMessage.chat_id)
    )
    rows = await session.execute(statement)
    return {chat_id: int(count) for chat_id, count in rows.tuples()}


async def advance_last_read(
    session: AsyncSession, chat_id: int, user_id: int, message: ChatMessage
) -> None:
    """Move the member's last-read mark forward to `message`; never backwards.

    One conditional UPDATE, so concurrent marks cannot move the position back.
    """
    mark_is_older = or_(
        ChatMember.last_read_at.is_(None),
        ChatMember.last_read_at < message.created_at,
        and_(
            ChatMember.last_read_at == message.created_at,
            ChatMember.last_read_message_id < message.id,
        ),
    )
    statement = (
        update(ChatMember)
        .where(
            ChatMember.chat_id == chat_id,
            ChatMember.user_id == user_id,
            mark_is_older,
        )
        .values(last_read_message_id=message.id, last_read_at=message.created_at)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)
