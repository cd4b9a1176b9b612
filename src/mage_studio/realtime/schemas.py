"""Bodies of the event streams and of the live steering endpoint (raw JSON)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mage_studio.jobs.schemas import JobUrls, Queue
from mage_studio.queue.schemas import SteeringValues


class FrameRead(BaseModel):
    """The newest preview frame a worker uploaded."""

    index: int = Field(description="Frame number within the render, from 0.")
    url: str = Field(description="Signed, expiring link to the image.")
    content_type: str | None = None


class AppliedRead(BaseModel):
    """The values the renderer used on its latest reported frame."""

    frame: int
    values: dict[str, Any]


class JobEventState(BaseModel):
    """A job as event streams show it: status, progress, placement and links.

    This is the data of the `snapshot`, `status` and `final` events, and the response
    of the events route to a client that requests JSON.
    """

    id: int
    status: str
    generator: str
    render_kind: str | None = Field(description="preview or full while queued.")
    progress: float = Field(description="0-100.")
    frames_done: int
    render_frames: int | None = Field(description="Frames the current render makes.")
    estimated_time_left: float = Field(description="Seconds.")
    job_time: float
    queued_at: int | None = Field(description="Unix seconds.")
    queue: Queue
    cancel_requested: bool
    error_message: str | None
    seed: int | None
    revision: int
    urls: JobUrls
    steering: SteeringValues | None = Field(description="Current live values.")
    applied: AppliedRead | None = Field(
        description="Values used on the latest frame of the current render."
    )
    frame: FrameRead | None = Field(description="Newest preview frame, if any.")
    final: bool = Field(
        description="True once the job is finished, failed or "
        "cancelled: the stream ends after it."
    )


class SteeringRead(BaseModel):
    """A job's live steering values and what its current render applied so far."""

    job_id: int
    status: str
    steering: SteeringValues
    applied: dict[str, dict[str, Any]] = Field(
        description="Values used per frame (frame number as a string) by the "
        "latest render attempt; kept so the render can be reproduced."
    )
