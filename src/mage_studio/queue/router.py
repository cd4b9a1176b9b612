"""Worker API (`/api/workers/*`) and the admin routes for worker tokens and workers."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import ValidationError

from mage_studio.auth.deps import AdminUser, AppSettings
from mage_studio.core.audit import record_audit
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Envelope
from mage_studio.errors import ValidationFailed, validation_errors
from mage_studio.queue import repository, service, tokens
from mage_studio.queue.deps import ClaimingWorker, WorkerAuth
from mage_studio.queue.dialects import ClaimFilter
from mage_studio.queue.schemas import (
    API_PREFIX,
    ClaimRequest,
    FailRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    JobAck,
    JobSpec,
    ResultMetadata,
    WorkerRead,
    WorkerTokenCreate,
    WorkerTokenCreated,
    WorkerTokenRead,
)

MAX_ID = 2_147_483_647
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="Id of the video job.")]
OptionalFile = Annotated[UploadFile | None, File()]

workers = APIRouter(prefix=API_PREFIX, tags=["workers"], route_class=DbRoute)
admin = APIRouter(
    prefix="/api/administration/workers",
    tags=["administration"],
    route_class=DbRoute,
)


# --- worker API -----------------------------------------------------------------------


@workers.post(
    "/claim",
    response_model=JobSpec,
    status_code=200,
    responses={204: {"description": "Nothing was claimable within `wait` seconds."}},
)
async def claim(request: Request, body: ClaimRequest, token: ClaimingWorker) -> Any:
    """Claim the next job this worker can run, waiting up to `wait` seconds.

    Jobs are handed out in strict priority order (high, medium, low queue), first in
    first out inside a queue. The job spec contains the attempt number that every
    later call about the job must send back.
    """
    settings = request.app.state.settings
    data = service.ClaimRequestData(
        worker_name=body.worker_name,
        token_id=token.id,
        claim_filter=ClaimFilter(
            queues=service.served_queues(settings, body.queues),
            generators=list(body.generators),
            models=list(body.models),
        ),
        wait=body.wait,
    )
    spec = await service.claim_job(request.app, data)
    if spec is None:
        return Response(status_code=204)
    return spec


@workers.post("/jobs/{job_id}/heartbeat", response_model=HeartbeatResponse)
async def heartbeat(
    request: Request,
    job_id: JobId,
    body: HeartbeatRequest,
    session: DbSession,
    _: WorkerAuth,
) -> HeartbeatResponse:
    """Extend the lease and report progress; returns the cancel flag and steering.

    409 when the attempt no longer owns the job: the worker must drop it.
    """
    return await service.record_heartbeat(request.app, session, job_id, body)


@workers.post("/jobs/{job_id}/frames", response_model=JobAck)
async def frames(
    request: Request,
    job_id: JobId,
    session: DbSession,
    _: WorkerAuth,
    attempt: Annotated[int, Form(ge=1, le=MAX_ID)],
    index: Annotated[int, Form(ge=0, le=MAX_ID)],
    frame: Annotated[UploadFile, File(description="JPEG, WebP or PNG.")],
) -> JobAck:
    """Upload the newest rendered frame (optional); it is shown to watchers live."""
    return await service.store_preview_frame(
        request.app, session, job_id, attempt=attempt, index=index, frame=frame
    )


@workers.post("/jobs/{job_id}/result", response_model=JobAck)
async def result(
    request: Request,
    job_id: JobId,
    session: DbSession,
    _: WorkerAuth,
    attempt: Annotated[int, Form(ge=1, le=MAX_ID)],
    frames_rendered: Annotated[int, Form(ge=0, le=MAX_ID)] = 0,
    metadata: Annotated[str, Form(description="ResultMetadata as JSON.")] = "{}",
    video: OptionalFile = None,
    preview_img: OptionalFile = None,
    preview_animation: OptionalFile = None,
    thumbnail: OptionalFile = None,
    last_frame: OptionalFile = None,
    rendition_thumbnail_square: OptionalFile = None,
    rendition_backdrop: OptionalFile = None,
    rendition_poster: OptionalFile = None,
    rendition_animated_preview: OptionalFile = None,
) -> JobAck:
    """Upload the render's files; a preview becomes `preview`, a full render
    `finished`.

    A full render may add gallery renditions (`rendition_*`, JPEG or WebP), which
    replace the job's earlier ones. 409 when the attempt no longer owns the job;
    nothing is stored then.
    """
    files = {
        name: upload
        for name, upload in {
            "video": video,
            "preview_img": preview_img,
            "preview_animation": preview_animation,
            "thumbnail": thumbnail,
            "last_frame": last_frame,
            "rendition_thumbnail_square": rendition_thumbnail_square,
            "rendition_backdrop": rendition_backdrop,
            "rendition_poster": rendition_poster,
            "rendition_animated_preview": rendition_animated_preview,
        }.items()
        if upload is not None
    }
    return await service.complete_job(
        request.app,
        session,
        job_id,
        attempt=attempt,
        frames_rendered=frames_rendered,
        metadata=_parse_metadata(metadata),
        files=files,
    )


def _parse_metadata(text: str) -> ResultMetadata:
    try:
        parsed = json.loads(text or "{}")
    except RecursionError as exc:
        raise ValidationFailed.field(
            "metadata", "The metadata JSON is nested too deeply."
        ) from exc
    except ValueError as exc:
        # JSONDecodeError, or a plain ValueError for an integer longer than
        # sys.get_int_max_str_digits() (4300 digits by default).
        raise ValidationFailed.field(
            "metadata", "The metadata is not valid JSON."
        ) from exc
    try:
        return ResultMetadata.model_validate(parsed)
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        raise ValidationFailed({f"metadata.{k}": v for k, v in errors.items()}) from exc


@workers.post("/jobs/{job_id}/fail", response_model=JobAck)
async def fail(
    request: Request,
    job_id: JobId,
    body: FailRequest,
    session: DbSession,
    _: WorkerAuth,
) -> JobAck:
    """Report a failed or cancelled attempt.

    A retryable failure returns the job to its original queue position until the
    attempts are spent, and any other failure moves it to `error`. With `cancelled`
    the job ends as cancelled and the frames rendered are charged.
    """
    return await service.fail_job(request.app, session, job_id, body)


# --- administration -------------------------------------------------------------------


def _token_read(record: Any) -> WorkerTokenRead:
    return WorkerTokenRead(**repository.token_fields(record))


@admin.get("/tokens", response_model=Envelope[list[WorkerTokenRead]])
async def list_worker_tokens(
    session: DbSession, _: AdminUser
) -> Envelope[list[WorkerTokenRead]]:
    """List worker tokens, revoked ones included. Secrets are never shown again."""
    records = await tokens.list_tokens(session)
    return Envelope(data=[_token_read(record) for record in records])


@admin.post("/tokens", response_model=Envelope[WorkerTokenCreated], status_code=201)
async def create_worker_token(
    body: WorkerTokenCreate, session: DbSession, admin_user: AdminUser
) -> Envelope[WorkerTokenCreated]:
    """Create a worker token. The secret is in this response only: store it now."""
    issued = await tokens.create_token(session, body.name, created_by_id=admin_user.id)
    # The secret never reaches the audit log: only the name and id are recorded.
    await record_audit(
        session,
        admin_user,
        "worker_token.created",
        "worker_token",
        issued.record.id,
        None,
        {"name": issued.record.name},
    )
    fields = repository.token_fields(issued.record)
    return Envelope(data=WorkerTokenCreated(**fields, token=issued.token))


@admin.delete("/tokens/{token_id}", response_model=Envelope[WorkerTokenRead])
async def revoke_worker_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: DbSession,
    admin_user: AdminUser,
) -> Envelope[WorkerTokenRead]:
    """Revoke a worker token; its workers get 401 from their next call."""
    record, revoked_now = await tokens.revoke_token(session, token_id)
    if revoked_now:
        await record_audit(
            session,
            admin_user,
            "worker_token.revoked",
            "worker_token",
            record.id,
            {"revoked_at": None},
            {"revoked_at": record.revoked_at},
        )
    return Envelope(data=_token_read(record))


@admin.get("", response_model=Envelope[list[WorkerRead]])
async def list_workers(
    session: DbSession,
    settings: AppSettings,
    _: AdminUser,
    include_stale: Annotated[
        bool, Query(description="Also list workers not seen recently.")
    ] = False,
) -> Envelope[list[WorkerRead]]:
    """List live workers with their last heartbeat and current job."""
    rows = await repository.list_workers(session, settings, include_stale=include_stale)
    return Envelope(data=rows)


router = APIRouter()
router.include_router(workers)
router.include_router(admin)
