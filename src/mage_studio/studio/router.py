"""Studio routes under /api/studio: exports, compositions, audio edits, watermark.

Studio jobs are video jobs (generator "studio") queued on the low queue, so
their status, queue placement, progress, cancel and downloads work like those
of every render. Responses are wrapped in `data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ValidationError

from mage_studio.auth.deps import AppSettings, CurrentUser
from mage_studio.config import Settings
from mage_studio.core.routing import DbRoute, DbSession, after_commit
from mage_studio.core.schemas import Envelope, Page, PageParams, page_params
from mage_studio.core.storage import Storage, StorageDep, new_key
from mage_studio.errors import ValidationFailed, validation_errors
from mage_studio.jobs.media import extension_for, probe_soundtrack
from mage_studio.jobs.openapi import inline_schema
from mage_studio.jobs.uploads import read_upload_form
from mage_studio.queue.notifier import notify_queued
from mage_studio.studio import service, watermarks
from mage_studio.studio.presenters import StudioPresenter
from mage_studio.studio.schemas import (
    MAX_ID,
    AudioRequest,
    CompositionRequest,
    ExportRequest,
    StudioJobRead,
    WatermarkRead,
)

router = APIRouter(prefix="/api/studio", route_class=DbRoute, tags=["studio"])

M = TypeVar("M", bound=BaseModel)
StudioJobId = Annotated[int, Path(ge=1, le=MAX_ID, description="Studio job id.")]
StatusName = Literal[
    "pending", "approved", "processing", "preview", "finished", "error", "cancelled"
]
# Multipart framing (boundaries, part headers) on top of the file size.
_MULTIPART_OVERHEAD = 1024 * 1024

_AUDIO_SCHEMA = inline_schema(AudioRequest)
_AUDIO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _AUDIO_SCHEMA},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **_AUDIO_SCHEMA["properties"],
                        "soundtrack": {
                            "type": "string",
                            "format": "binary",
                            "description": "MP3, AAC, M4A or WAV. Without it, replace "
                            "and mix use the source job's soundtrack.",
                        },
                    },
                    "required": ["sourceJobId"],
                }
            },
        },
    }
}
_WATERMARK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "watermark": {
                            "type": "string",
                            "format": "binary",
                            "description": "PNG, ideally with transparency, 8-4096 "
                            "pixels per side.",
                        }
                    },
                    "required": ["watermark"],
                }
            }
        },
    }
}


def presenter(request: Request) -> StudioPresenter:
    return StudioPresenter(request)


Presenter = Annotated[StudioPresenter, Depends(presenter)]


def parse(model: type[M], body: Any) -> M:
    """Validate a body read by hand, with the usual 422 shape."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed.named(validation_errors(exc.errors())) from exc


def _wake_workers(request: Request, session: DbSession) -> None:
    after_commit(session, partial(notify_queued, request.app))


# --- studio jobs --------------------------------------------------------------------


@router.post(
    "/exports",
    response_model=Envelope[StudioJobRead],
    status_code=201,
)
async def create_export(
    body: ExportRequest,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    studio: Presenter,
) -> Envelope[StudioJobRead]:
    """Queue an export of a finished job: 9:16, 1:1, 16:9 or the original aspect.

    `fit` crop fills the frame around `focus` (x, y in 0-1; default the centre),
    and pad shows the whole picture on a blurred or solid `background`. The
    height is the picture's own, capped by `maxHeight` (or exactly `maxHeight`
    with `upscale`). Output: H.264 + AAC MP4 with +faststart, the source audio
    kept. `watermark` draws the uploaded watermark. Credits: the output seconds
    (rounded up) times the studio rate, reserved now (402 when short). 404 for a
    job that is not the caller's, 409 for one that has not finished.
    """
    job = await service.create_export(session, settings, user, body)
    _wake_workers(request, session)
    return Envelope(data=await studio.job(job))


@router.post(
    "/compositions",
    response_model=Envelope[StudioJobRead],
    status_code=201,
)
async def create_composition(
    body: CompositionRequest,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    studio: Presenter,
) -> Envelope[StudioJobRead]:
    """Queue a composition of a job's source and its generated video, or a join.

    Layouts: `side-by-side`, `wipe` (a moving or fixed divider, source before
    it), `crossfade` (from the source into the generated look), `pip` (one
    picture small in a corner), each configured by the object of the same name
    (`sideBySide` for side-by-side). `concat` joins the finished videos of
    `jobIds` at the first one's size and rate (or `fps`), with bars in
    `background` where aspects differ and silence where a video has no audio.
    Credits and errors as for exports; a studio job cannot be composed with its
    source (422).
    """
    job = await service.create_composition(session, settings, user, body)
    _wake_workers(request, session)
    return Envelope(data=await studio.job(job))


@router.post(
    "/audio",
    response_model=Envelope[StudioJobRead],
    status_code=201,
    openapi_extra=_AUDIO_BODY,
)
async def create_audio_job(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    storage: StorageDep,
    studio: Presenter,
) -> Envelope[StudioJobRead]:
    """Queue an audio edit of a finished job; the picture is copied, not re-encoded.

    Modes: `replace` (soundtrack only), `mix` (soundtrack and original audio at
    their levels), `original` (levels and fades of the original audio only) and
    `mute`. Levels are linear gains 0-2 (`soundtrackGain`, `originalGain`) or
    dB -60 to +6 (`soundtrackDb`, `originalDb`). `fadeIn`/`fadeOut` fade the
    output, `fit` trim or loop a short soundtrack, `soundtrackStart` skips its
    beginning. Send JSON, or multipart/form-data with the same fields and a
    `soundtrack` file. Without a file, replace and mix use the source job's
    soundtrack, and 422 when it has none.
    """
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/"):
        job = await _audio_from_form(request, user, session, settings, storage)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        body = parse(AudioRequest, _filled(dict(await request.form())))
        job = await service.create_audio_job(
            session, settings, storage, user, body, None
        )
    else:
        body = parse(AudioRequest, await _json_or_none(request))
        job = await service.create_audio_job(
            session, settings, storage, user, body, None
        )
    _wake_workers(request, session)
    return Envelope(data=await studio.job(job))


def _filled(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty form fields: an empty string means the field is absent."""
    return {
        name: value
        for name, value in fields.items()
        if not (isinstance(value, str) and value.strip() == "")
    }


async def _json_or_none(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


async def _audio_from_form(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: Settings,
    storage: Storage,
) -> Any:
    limits = {"soundtrack": settings.soundtrack_max_bytes}
    form = await read_upload_form(request, storage, limits, user.id)
    try:
        fields = _filled(form.fields)
        if "soundtrack" in fields:
            raise ValidationFailed.named_field(
                "soundtrack", "soundtrack must be a file."
            )
        body = parse(AudioRequest, fields)
        soundtrack_key = None
        upload = form.files.get("soundtrack")
        service.check_soundtrack(body.options(), uploaded=upload is not None)
        if upload is not None:
            audio = await probe_soundtrack(upload.staged.path)
            soundtrack_key = new_key("soundtracks", extension_for(audio.mimetype))
            await storage.put_staged(
                soundtrack_key, upload.staged, content_type=audio.mimetype
            )
        return await service.create_audio_job(
            session, settings, storage, user, body, soundtrack_key
        )
    finally:
        form.discard()


@router.get("/jobs", response_model=Page[StudioJobRead])
async def list_studio_jobs(
    user: CurrentUser,
    session: DbSession,
    studio: Presenter,
    paging: Annotated[PageParams, Depends(page_params)],
    status: Annotated[
        StatusName | None, Query(description="Only jobs with this status.")
    ] = None,
) -> Page[StudioJobRead]:
    """List the caller's studio jobs, newest first."""
    rows, total = await service.list_studio_jobs(
        session, user, status=status, offset=paging.offset, limit=paging.per_page
    )
    return Page(data=[await studio.job(job) for job in rows], meta=paging.meta(total))


@router.get("/jobs/{job_id}", response_model=Envelope[StudioJobRead])
async def get_studio_job(
    job_id: StudioJobId, user: CurrentUser, session: DbSession, studio: Presenter
) -> Envelope[StudioJobRead]:
    """Return a studio job with its status, queue placement and download links."""
    job = await service.get_studio_job(session, user, job_id)
    return Envelope(data=await studio.job(job))


@router.post("/jobs/{job_id}/cancel", response_model=Envelope[StudioJobRead])
async def cancel_studio_job(
    job_id: StudioJobId, user: CurrentUser, session: DbSession, studio: Presenter
) -> Envelope[StudioJobRead]:
    """Cancel a studio job: at once while queued (credits released), or before the
    worker's next frame while processing (`cancel_requested`; the frames done are
    charged). 409 for a job that already ended."""
    job = await service.cancel_studio_job(session, user, job_id)
    return Envelope(data=await studio.job(job))


# --- watermark ----------------------------------------------------------------------


@router.post(
    "/watermark",
    response_model=Envelope[WatermarkRead],
    status_code=201,
    openapi_extra=_WATERMARK_BODY,
)
async def upload_watermark(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    storage: StorageDep,
    studio: Presenter,
) -> Envelope[WatermarkRead]:
    """Upload the caller's watermark (multipart `watermark`), replacing any earlier.

    The PNG is decoded before it is stored: other formats get 415, damaged images
    or sizes outside 8-4096 pixels per side 422, files over the limit 413.
    """
    limits = {"watermark": settings.studio_watermark_max_bytes}
    form = await read_upload_form(request, storage, limits, user.id)
    try:
        watermark = await watermarks.upload_watermark(session, storage, user, form)
    finally:
        form.discard()
    return Envelope(data=studio.watermark(watermark))


@router.get("/watermark", response_model=Envelope[WatermarkRead])
async def get_watermark(
    user: CurrentUser, session: DbSession, studio: Presenter
) -> Envelope[WatermarkRead]:
    """Return the caller's watermark (404 when none was uploaded)."""
    watermark = await watermarks.get_watermark(session, user)
    return Envelope(data=studio.watermark(watermark))


@router.delete("/watermark", status_code=204, response_class=Response)
async def delete_watermark(
    user: CurrentUser, session: DbSession, storage: StorageDep
) -> Response:
    """Delete the caller's watermark; queued jobs that asked for it will fail."""
    await watermarks.delete_watermark(session, storage, user)
    return Response(status_code=204)
