"""Event streams of video jobs (SSE) and live steering of Deforum renders."""

from __future__ import annotations

import time
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse

from mage_studio.auth.deps import CurrentUser, CurrentUserOrQueryToken
from mage_studio.auth.tokens import AccessClaims
from mage_studio.core.routing import DbRoute, DbSession, after_commit, json_object
from mage_studio.errors import NotFound
from mage_studio.jobs import service as jobs
from mage_studio.jobs.models import VideoJob
from mage_studio.jobs.schemas import ProcessingStatus
from mage_studio.queue.events import publish_job_event
from mage_studio.realtime import steering
from mage_studio.realtime.schemas import JobEventState, SteeringRead
from mage_studio.realtime.state import (
    TERMINAL,
    applied_steering,
    load_job_state,
    load_processing_status,
)
from mage_studio.realtime.streams import (
    FINAL_ID,
    JobStream,
    ProcessingStream,
    retained_frame,
    wants_stream,
)

router = APIRouter(route_class=DbRoute, tags=["video jobs"])

MAX_ID = 2_147_483_647
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="Video job id.")]
QueryToken = Annotated[
    str | None,
    Query(
        description="Access token, for clients that cannot send headers "
        "(EventSource). Redacted from logs.",
        max_length=4096,
    ),
]
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=64,
        description="Id of the last event received; the stream resumes after it.",
    ),
]
_STREAM_CONTENT = {
    "text/event-stream": {
        "schema": {"type": "string", "description": "Server-sent events."}
    }
}
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _expires_at(request: Request) -> Any:
    claims: AccessClaims | None = getattr(request.state, "token_claims", None)
    return None if claims is None else claims.expires_at


def _event_source(request: Request, content: Any) -> EventSourceResponse:
    settings = request.app.state.settings
    return EventSourceResponse(
        content, ping=settings.sse_ping_seconds, headers=_STREAM_HEADERS
    )


@router.get(
    "/api/video-jobs/processing/events",
    response_model=ProcessingStatus,
    responses={200: {"content": _STREAM_CONTENT}},
)
async def processing_events(
    request: Request,
    user: CurrentUserOrQueryToken,
    session: DbSession,
    token: QueryToken = None,
) -> Any:
    """Stream the caller's processing overview: the data of
    `/api/video-jobs/processing/status`, as a `processing` event each time it
    changes.

    Send `Accept: text/event-stream` (EventSource does); other clients get the
    current overview once, as JSON. Keep-alive comments come every 15 seconds.
    """
    await session.commit()
    if not wants_stream(request):
        return await load_processing_status(request, user.id)
    stream = ProcessingStream(
        request, user.id, expires_at=_expires_at(request), clock=time.monotonic
    )
    return _event_source(request, stream.events())


@router.get(
    "/api/video-jobs/{id}/events",
    response_model=JobEventState,
    responses={
        200: {"content": _STREAM_CONTENT},
        204: {"description": "The stream already ended with its `final` event."},
    },
)
async def job_events(
    id: JobId,
    request: Request,
    user: CurrentUserOrQueryToken,
    session: DbSession,
    token: QueryToken = None,
    last_event_id: LastEventId = None,
) -> Any:
    """Stream a job's status, progress, queue position and preview frames (owner
    or admin).

    Events: `snapshot` is first and contains the whole state. `status` contains
    the whole state after a status change. `progress` has `progress`,
    `frames_done`, `estimated_time_left` and `applied` (the values used on the
    newest frame). `queue` has the position and ETA while queued, `frame` the
    newest preview frame (`index`, `url`) and `steering` the changed live values.
    `final` contains the whole state with the result links, and the stream then
    ends. Progress, queue and frame updates are coalesced to a few per second.
    With `Last-Event-ID` the stream resumes where it broke off.

    Send `Accept: text/event-stream` (EventSource does); other clients get the
    current state once, as JSON.
    """
    job = await jobs.get_visible_job(session, user, id)
    # Reads below use short sessions of their own; end this one first (on SQLite
    # an open transaction holds the write lock).
    await session.commit()
    if not wants_stream(request):
        frame = await retained_frame(request, job.id)
        state = await load_job_state(request, job.id, frame)
        if state is None:
            raise NotFound("Video job not found.")
        return state
    if last_event_id == FINAL_ID and job.status in TERMINAL:
        # Tells EventSource not to reconnect: it has seen the final state.
        return Response(status_code=204)
    stream = JobStream(
        request,
        job.id,
        last_event_id=last_event_id,
        expires_at=_expires_at(request),
        clock=time.monotonic,
    )
    return _event_source(request, stream.events())


async def _steering_read(session: AsyncSession, job: VideoJob) -> SteeringRead:
    return SteeringRead(
        job_id=job.id,
        status=job.status,
        steering=steering.current_values(job),
        applied=await applied_steering(session, job),
    )


@router.get("/api/video-jobs/{id}/steering", response_model=SteeringRead)
async def get_steering(id: JobId, user: CurrentUser, session: DbSession) -> Any:
    """Return a job's live steering values and the values its latest render
    applied per frame (owner or admin)."""
    job = await jobs.get_visible_job(session, user, id)
    return await _steering_read(session, job)


@router.patch("/api/video-jobs/{id}/steering", response_model=SteeringRead)
async def patch_steering(
    id: JobId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    body: Annotated[Any, Depends(json_object)],
) -> Any:
    """Change the live values of a queued or rendering Deforum job
    (DeforumationQT controls).

    Send only the values to change; `null` clears one. Ranges: strength 0–1, cfg
    1–30, steps 1–200, cadence 1–30, noise_multiplier 0.01–2, translation_z (zoom)
    −1…1, translation_x/y −100…100, rotation_x/y/z −360…360 and fov 20–120.
    seed is −1…4294967295 (−1 random) with seed_behavior iter, fixed, random,
    ladder, alternate or schedule. ease_frames (0–100) and ease_curve (linear,
    ease, ease-in, ease-out, ease-in-out) smooth a change. The prompts are
    positive_prompt and negative_prompt, and the switches use_live_strength,
    use_live_cfg and use_live_prompt. Motion values add to the preset's
    schedules; strength, cfg and the prompts replace them while their switch is on.
    The worker applies the values from its next frame after its next heartbeat.

    404 for another user's job; 409 unless the job is a queued or rendering
    Deforum job; 422 with `validator` for invalid values.
    """
    job = await steering.update_steering(session, user, id, body)
    result = await _steering_read(session, job)
    event = {"type": "steering", "steering": result.steering.model_dump(mode="json")}
    after_commit(session, partial(publish_job_event, request.app, job.id, event))
    return result
