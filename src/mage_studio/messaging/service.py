"""Rules for chats and messages: membership, one chat per pair, read marks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.audit import record_audit
from mage_studio.core.db import utcnow
from mage_studio.errors import BadRequest, NotFound, ValidationFailed
from mage_studio.messaging import repository
from mage_studio.messaging.cursor import CursorKey, decode_cursor, encode_cursor
from mage_studio.messaging.models import Chat, ChatMember, ChatMessage
from mage_studio.messaging.notifications import Mailer, notify_new_message
from mage_studio.messaging.schemas import (
    AdminMessageRead,
    ChatRead,
    CursorMeta,
    MessagePage,
    MessageRead,
    PublicUser,
    ReadState,
)
from mage_studio.users.models import User

log = structlog.get_logger(__name__)


class ChatExists(BadRequest):
    code = 1003
    message = "A chat with this user already exists."


class ChatNotFound(NotFound):
    message = "The chat was not found."


class MessageNotFound(NotFound):
    message = "The message was not found."


def message_read(message: ChatMessage, author: User) -> MessageRead:
    """Present a message to chat members: a hidden message has an empty text."""
    return MessageRead(
        id=message.id,
        message="" if message.hidden else message.body,
        authorUser=PublicUser.of(author),
        hiddenStatus=message.hidden,
        createdAt=message.created_at,
    )


async def member_chat(session: AsyncSession, user: User, chat_id: int) -> Chat:
    """Return the chat if `user` is a member. For anyone else it does not exist."""
    chat = await session.get(Chat, chat_id)
    if chat is None or not chat.has_member(user.id):
        raise ChatNotFound()
    return chat


async def create_chat(session: AsyncSession, user: User, recipient_id: int) -> Chat:
    """Open the chat between `user` and `recipient_id` (one per pair of users)."""
    if recipient_id == user.id:
        raise ValidationFailed.field(
            "recipientUserId", "You cannot start a chat with yourself."
        )
    recipient = await session.get(User, recipient_id)
    if recipient is None or not recipient.active:
        raise NotFound("The recipient user was not found.")
    if await repository.chat_between(session, user.id, recipient_id) is not None:
        raise ChatExists()

    low, high = repository.ordered_pair(user.id, recipient_id)
    chat = Chat(low_user_id=low, high_user_id=high)
    try:
        # A concurrent request for the same pair fails on the unique constraint.
        async with session.begin_nested():
            session.add(chat)
            await session.flush()
            session.add_all(
                [
                    ChatMember(chat_id=chat.id, user_id=low),
                    ChatMember(chat_id=chat.id, user_id=high),
                ]
            )
            await session.flush()
    except IntegrityError as exc:
        raise ChatExists() from exc
    log.info(
        "chat_created", chat_id=chat.id, user_id=user.id, recipient_id=recipient_id
    )
    return chat


async def chat_views(
    session: AsyncSession, user: User, chats: Sequence[Chat]
) -> list[ChatRead]:
    """Present chats with their last message and the caller's unread count.

    The most recently active chat comes first.
    """
    chat_ids = [chat.id for chat in chats]
    newest_by_chat = await repository.last_messages(session, chat_ids)
    unread = await repository.unread_counts(session, user.id, chat_ids)
    user_ids = {chat.other_member(user.id) for chat in chats}
    user_ids |= {message.author_id for message in newest_by_chat.values()}
    users = await repository.users_by_id(session, user_ids)

    def last_activity(chat: Chat) -> tuple[datetime, int]:
        newest = newest_by_chat.get(chat.id)
        return (newest.created_at if newest else chat.created_at, chat.id)

    views = []
    for chat in sorted(chats, key=last_activity, reverse=True):
        newest = newest_by_chat.get(chat.id)
        last_message = None
        if newest is not None:
            last_message = message_read(newest, users[newest.author_id])
        views.append(
            ChatRead(
                id=chat.id,
                recipientUser=PublicUser.of(users[chat.other_member(user.id)]),
                lastMessage=last_message,
                unreadCount=unread.get(chat.id, 0),
            )
        )
    return views


async def chat_view(session: AsyncSession, user: User, chat: Chat) -> ChatRead:
    return (await chat_views(session, user, [chat]))[0]


async def list_chats(session: AsyncSession, user: User) -> list[ChatRead]:
    chats = await repository.chats_of(session, user.id)
    return await chat_views(session, user, chats)


async def chat_with_user(
    session: AsyncSession, user: User, other_user_id: int
) -> ChatRead | None:
    """Return the caller's chat with another user, or None when there is none.

    An unknown user id also gives None, so the result does not reveal which user
    ids exist.
    """
    chat = await repository.chat_between(session, user.id, other_user_id)
    if chat is None:
        return None
    return await chat_view(session, user, chat)


async def list_messages(
    session: AsyncSession,
    user: User,
    chat_id: int,
    *,
    cursor: str | None,
    limit: int,
    secret: str,
) -> MessagePage:
    """Return a page of a chat's messages, newest first, after an opaque cursor."""
    chat = await member_chat(session, user, chat_id)
    before = decode_cursor(secret, chat.id, cursor) if cursor else None

    rows = await repository.messages_page(session, chat.id, before, limit + 1)
    page, has_more = rows[:limit], len(rows) > limit
    authors = await repository.users_by_id(session, {row.author_id for row in page})

    next_cursor = None
    if has_more:
        last = page[-1]
        next_cursor = encode_cursor(
            secret, chat.id, CursorKey(created_at=last.created_at, message_id=last.id)
        )
    return MessagePage(
        data=[message_read(row, authors[row.author_id]) for row in page],
        meta=CursorMeta(next_cursor=next_cursor),
    )


async def post_message(
    session: AsyncSession,
    user: User,
    chat_id: int,
    text: str,
    mailer: Mailer | None,
) -> MessageRead:
    """Add a message to a chat and mail the other member.

    To keep a busy conversation from flooding a mailbox, mail goes out only for the
    first message the recipient has not read yet in this chat.
    """
    chat = await member_chat(session, user, chat_id)
    message = ChatMessage(
        chat_id=chat.id, author_id=user.id, body=text, created_at=utcnow()
    )
    session.add(message)
    await session.flush()

    recipient = await session.get(User, chat.other_member(user.id))
    assert recipient is not None, "chat members are deleted with their chats"
    unread = await repository.unread_counts(session, recipient.id, [chat.id])
    if unread.get(chat.id, 0) == 1:
        notify_new_message(
            session,
            mailer,
            recipient=recipient,
            author=user,
            chat_id=chat.id,
            text=text,
        )
    log.info("chat_message_posted", chat_id=chat.id, message_id=message.id)
    return message_read(message, user)


async def mark_read(
    session: AsyncSession, user: User, chat_id: int, message_id: int
) -> ReadState:
    """Move the caller's last-read mark to a message of the chat (never backwards)."""
    chat = await member_chat(session, user, chat_id)
    message = await session.get(ChatMessage, message_id)
    if message is None or message.chat_id != chat.id:
        raise ValidationFailed.field("messageId", "The message is not in this chat.")

    await repository.advance_last_read(session, chat.id, user.id, message)
    member = await repository.member(session, chat.id, user.id)
    await session.refresh(member)
    unread = await repository.unread_counts(session, user.id, [chat.id])
    return ReadState(
        chatId=chat.id,
        lastReadMessageId=member.last_read_message_id,
        unreadCount=unread.get(chat.id, 0),
    )


async def set_message_hidden(
    session: AsyncSession, admin: User, message_id: int, hidden: bool
) -> ChatMessage:
    """Hide a message from its chat (moderation) or show it again, with an audit entry.

    A hidden message stays in the list for the members with `hiddenStatus` true and
    an empty text; the stored text is kept for moderators.
    """
    message = await session.get(ChatMessage, message_id)
    if message is None:
        raise MessageNotFound()
    if message.hidden == hidden:
        return message

    message.hidden = hidden
    await session.flush()
    await record_audit(
        session,
        admin,
        "chat_message.hide" if hidden else "chat_message.show",
        "chat_message",
        message.id,
        {"hidden": not hidden},
        {"hidden": hidden},
    )
    log.info("chat_message_hidden", message_id=message.id, hidden=hidden)
    return message


async def moderation_view(
    session: AsyncSession, message: ChatMessage
) -> AdminMessageRead:
    author = await session.get(User, message.author_id)
    assert author is not None, "messages are deleted with their author"
    return AdminMessageRead(
        id=message.id,
        chatId=message.chat_id,
        message=message.body,
        authorUser=PublicUser.of(author),
        hiddenStatus=message.hidden,
        createdAt=message.created_at,
    )
