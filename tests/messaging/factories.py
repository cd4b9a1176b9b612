"""Factories for chats, their members and messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import utcnow
from mage_studio.messaging.models import Chat, ChatMember, ChatMessage
from mage_studio.users.models import User
from tests.factories import create_user


async def create_chat(session: AsyncSession, first: User, second: User) -> Chat:
    """Insert a chat between two users with both member rows, and flush."""
    low, high = sorted((first.id, second.id))
    chat = Chat(low_user_id=low, high_user_id=high)
    session.add(chat)
    await session.flush()
    session.add_all(
        [
            ChatMember(chat_id=chat.id, user_id=low),
            ChatMember(chat_id=chat.id, user_id=high),
        ]
    )
    await session.flush()
    return chat


async def create_message(
    session: AsyncSession,
    chat: Chat,
    author: User,
    text: str = "hello",
    *,
    created_at: datetime | None = None,
    hidden: bool = False,
) -> ChatMessage:
    message = ChatMessage(
        chat_id=chat.id,
        author_id=author.id,
        body=text,
        hidden=hidden,
        created_at=created_at or utcnow(),
    )
    session.add(message)
    await session.flush()
    return message


async def create_chat_with_members(session: AsyncSession) -> tuple[User, User, Chat]:
    """Insert two users and the chat between them, and flush."""
    alice = await create_user(session)
    bob = await create_user(session)
    chat = await create_chat(session, alice, bob)
    return alice, bob, chat


async def create_numbered_messages(
    session: AsyncSession, chat: Chat, author: User, count: int, start: datetime
) -> list[ChatMessage]:
    """Insert messages "m0", "m1", ... one second apart from `start`, oldest first."""
    return [
        await create_message(
            session, chat, author, f"m{i}", created_at=start + timedelta(seconds=i)
        )
        for i in range(count)
    ]


def messages_url(chat_id: int) -> str:
    return f"/api/messages/get-messages-by-chat-id/{chat_id}"
