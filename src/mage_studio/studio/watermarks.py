"""The user's watermark: one PNG per user, validated by decoding it."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.routing import after_commit
from mage_studio.core.storage import Storage, new_key
from mage_studio.errors import NotFound, UnsupportedMedia, ValidationFailed
from mage_studio.jobs.uploads import MultipartForm
from mage_studio.render.errors import MediaError
from mage_studio.render.errors import UnsupportedMedia as UnsupportedMediaFile
from mage_studio.render.studio.watermark import WatermarkInfo, validate_watermark
from mage_studio.studio import repository
from mage_studio.studio.models import StudioWatermark
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

FIELD = "watermark"


async def get_watermark(session: AsyncSession, user: User) -> StudioWatermark:
    watermark = await repository.watermark_of(session, user.id)
    if watermark is None:
        raise NotFound("No watermark has been uploaded.")
    return watermark


async def _validate(form: MultipartForm) -> WatermarkInfo:
    upload = form.files.get(FIELD)
    if upload is None:
        message = (
            "watermark must be a file."
            if FIELD in form.fields
            else "This field is required."
        )
        raise ValidationFailed.named_field(FIELD, message)
    try:
        return await asyncio.to_thread(validate_watermark, upload.staged.path)
    except UnsupportedMediaFile as exc:
        raise UnsupportedMedia(f"watermark: {exc.message}") from exc
    except MediaError as exc:
        raise ValidationFailed.named_field(FIELD, exc.message) from exc


async def upload_watermark(
    session: AsyncSession, storage: Storage, user: User, form: MultipartForm
) -> StudioWatermark:
    """Store a new watermark for the user, replacing the previous one.

    The PNG is decoded completely before anything is stored: other formats get
    415 and damaged or out-of-range images 422. The old file is removed once the
    change has committed.
    """
    info = await _validate(form)
    upload = form.files[FIELD]
    key = new_key("watermarks", "png")
    await storage.put_staged(key, upload.staged, content_type="image/png")
    try:
        watermark = await repository.watermark_of(session, user.id)
        old_key = watermark.key if watermark is not None else None
        if watermark is None:
            watermark = StudioWatermark(user_id=user.id)
            session.add(watermark)
        watermark.key = key
        watermark.width = info.width
        watermark.height = info.height
        watermark.has_alpha = info.has_alpha
        watermark.size = info.size_bytes
        await session.flush()
    except BaseException:
        await storage.delete_many([key])
        raise
    await session.refresh(watermark)

    async def remove_old() -> None:
        await storage.delete_many([old_key])

    after_commit(session, remove_old)
    log.info("studio_watermark_uploaded", user_id=user.id, width=info.width)
    return watermark


async def delete_watermark(session: AsyncSession, storage: Storage, user: User) -> None:
    """Remove the user's watermark; jobs that start later cannot draw it."""
    watermark = await get_watermark(session, user)
    key = watermark.key
    await session.delete(watermark)
    await session.flush()

    async def remove_file() -> None:
        await storage.delete_many([key])

    after_commit(session, remove_file)
    log.info("studio_watermark_deleted", user_id=user.id)
