"""Studio data: the users' watermark images.

Studio jobs themselves are `VideoJob` rows with generator "studio" (see the jobs
domain), so they share the queue, progress, credits and downloads of renders.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mage_studio.core.db import Base, TimestampMixin
from mage_studio.jobs.models import Generator

STUDIO_GENERATOR = Generator.STUDIO.value
"""`VideoJob.generator` of studio jobs."""


class StudioWatermark(TimestampMixin, Base):
    """A user's branding image (PNG), drawn on exports and compositions on request.

    One per user: uploading a new one replaces it.
    """

    __tablename__ = "studio_watermarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    key: Mapped[str] = mapped_column(String(512))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    has_alpha: Mapped[bool] = mapped_column(Boolean)
    size: Mapped[int] = mapped_column(BigInteger)
