from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mage_studio.core.db import Base, TimestampMixin, UtcDateTime, utcnow
from mage_studio.support.catalog import SupportStatus

_STATUS_IDS = ", ".join(str(int(status)) for status in SupportStatus)


class SupportRequest(TimestampMixin, Base):
    """A customer's support request (ticket).

    `order_id` refers to the billing domain's orders; it is checked against the
    customer's own orders when the request is created.
    """

    __tablename__ = "support_requests"
    __table_args__ = (
        CheckConstraint(f"status_id IN ({_STATUS_IDS})", name="status_id"),
        Index("ix_support_requests_author_id_created_at", "author_id", "created_at"),
        Index("ix_support_requests_status_id_created_at", "status_id", "created_at"),
        Index(None, "assignee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(Integer)
    status_id: Mapped[int] = mapped_column(Integer, default=int(SupportStatus.OPEN))
    order_id: Mapped[int | None] = mapped_column(Integer, default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class SupportMessage(Base):
    """A reply in a support request's thread, or a staff-only internal note."""

    __tablename__ = "support_messages"
    __table_args__ = (
        Index(
            "ix_support_messages_request_id_created_at",
            "request_id",
            "created_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("support_requests.id", ondelete="CASCADE")
    )
    # Kept when a staff account is deleted, so the customer's thread stays whole.
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
