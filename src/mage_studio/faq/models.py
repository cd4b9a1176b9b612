from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mage_studio.core.db import Base, TimestampMixin


class FaqQuestion(TimestampMixin, Base):
    """A question and its answer, listed by `position` (then id)."""

    __tablename__ = "faq_questions"
    __table_args__ = (Index("ix_faq_questions_position_id", "position", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
