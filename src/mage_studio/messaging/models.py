from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mage_studio.core.db import Base, TimestampMixin, UtcDateTime, utcnow


class Chat(TimestampMixin, Base):
    """A conversation between two users; at most one per pair of users.

    The pair is stored ordered (`low_user_id` < `high_user_id`) so that the unique
    constraint covers both directions.
    """

    __tablename__ = "chats"
    __table_args__ = (
        UniqueConstraint("low_user_id", "high_user_id"),
        CheckConstraint("low_user_id < high_user_id", name="ordered_pair"),
        Index(None, "high_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    low_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    high_user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )

    def other_member(self, user_id: int) -> int:
        return self.high_user_id if user_id == self.low_user_id else self.low_user_id

    def has_member(self, user_id: int) -> bool:
        return user_id in (self.low_user_id, self.high_user_id)


class ChatMember(Base):
    """A user's membership of a chat and how far they have read it.

    The last-read position is the (created_at, id) of a message: the same key the
    message list is ordered by, so unread counts and pages agree.
    """

    __tablename__ = "chat_members"
    __table_args__ = (Index(None, "user_id"),)

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_message_id: Mapped[int | None] = mapped_column(Integer, default=None)
    last_read_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ChatMessage(Base):
    """A message in a chat. Its text is stored and returned as plain text."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_chat_id_created_at", "chat_id", "created_at", "id"),
        Index(None, "author_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
