"""Response bodies of the video job API (raw JSON, keys as old clients read them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

SdInstanceType = Literal["stable_diffusion_forge", "comfyui"]
EmptyList = Annotated[list[Any], Field(max_length=0)]


class QueuePlacement(BaseModel):
    """Position and timing of an approved job in the queue, from the simulation."""

    your_position: int = Field(description="1-based, in real claim order.")
    your_estimated_time: float = Field(description="Seconds this render takes.")
    estimated_start_in: float
    estimated_finish_in: float
    total_jobs_processing: int
    total_jobs_in_queue: int
    estimated_time_processing_jobs: float
    estimated_time_for_all_jobs: float


Queue = QueuePlacement | EmptyList


class JobUrls(BaseModel):
    """Signed, expiring download links; null while a file does not exist."""

    original: str | None
    preview_img: str | None
    preview_animation: str | None
    video: str | None
    thumbnail: str | None
    last_frame: str | None
    soundtrack: str | None
    thumbnail_square: str | None = Field(
        default=None, description="Rendition: square JPEG, up to 512 px."
    )
    backdrop: str | None = Field(
        default=None, description="Rendition: 16:9 JPEG, up to 1280 px wide."
    )
    poster: str | None = Field(
        default=None, description="Rendition: 9:16 JPEG, up to 1280 px high."
    )
    animated_preview: str | None = Field(
        default=None, description="Rendition: animated WebP of about 3 s."
    )


class UploadResult(BaseModel):
    url: str = Field(description="Signed link to the uploaded file.")
    status: Literal["pending"] = "pending"
    id: int


class GenerateResult(BaseModel):
    id: int
    status: str
    seed: int | None
    job_time: float
    progress: float
    estimated_time_left: float
    width: int | None
    height: int | None
    length: float | None
    fps: float | None


class FinalizeResult(BaseModel):
    status: str
    progress: float
    job_time: float
    retries: int
    queued_at: int | None = Field(description="Unix seconds.")
    estimated_time_left: float


class CancelResult(BaseModel):
    status: Literal["cancelled"] = "cancelled"
    progress: float = 0
    job_time: float = 0
    estimated_time_left: float = 0
    cancel_requested: bool = Field(
        default=False,
        description="True when the job was rendering: the worker stops before its "
        "next frame and the job then turns cancelled.",
    )


class JobSummary(BaseModel):
    id: int
    status: str
    progress: float
    estimated_time_left: float
    job_time: float
    queued_at: int | None = Field(description="Unix seconds.")
    generator: str
    model_id: int | None
    prompt: str | None
    negative_prompt: str | None
    frame_count: int | None
    queue: Queue


class JobStatusRead(BaseModel):
    """GET /status/{videoId}."""

    id: int
    status: str
    progress: float
    estimated_time_left: float
    job_time: float
    queued_at: int | None = Field(description="Unix seconds.")
    queue: Queue
    generator: str
    model_id: int | None
    prompt: str | None
    negative_prompt: str | None
    cfg_scale: float | None
    seed: int | None
    denoising: float | None
    fps: float | None
    frame_count: int | None
    length: float | None
    width: int | None
    height: int | None
    generation_parameters: dict[str, Any] | None
    urls: JobUrls
    cancel_requested: bool
    error_message: str | None


class JobRead(BaseModel):
    """Every exposed column of a job (GET /api/queue rows)."""

    id: int
    user_id: int
    model_id: int | None
    generator: str
    status: str
    progress: float
    job_time: float
    estimated_time_left: float
    retries: int
    queued_at: int | None = Field(description="Unix seconds.")
    prompt: str | None
    negative_prompt: str | None
    cfg_scale: float | None
    steps: int | None
    denoising: float | None
    seed: int | None
    width: int | None
    height: int | None
    fps: float | None = Field(description="Frames per second; fractional rates kept.")
    fps_fraction: str | None = Field(description='Exact rate, e.g. "24000/1001".')
    frame_count: int | None
    length: float | None
    size: int | None
    codec: str | None
    audio_codec: str | None
    bitrate: int | None
    mimetype: str | None
    original_filename: str | None
    original_url: str | None
    url: str | None = Field(description="The finished video.")
    preview_img: str | None
    preview_animation: str | None
    thumbnail: str | None
    soundtrack_url: str | None
    controlnet: list[Any] | None
    generation_parameters: dict[str, Any] | None
    revision: int
    created_at: datetime
    updated_at: datetime


class SourceRead(BaseModel):
    kind: str | None
    width: int | None
    height: int | None
    rotation: int
    fps: float | None
    frame_count: int | None
    duration: float | None
    has_audio: bool


class JobDetail(JobRead):
    """GET /api/video-jobs/{id}: the columns plus links, queue and render state."""

    urls: JobUrls
    queue: Queue
    render_kind: str | None
    render_frames: int | None
    frames_done: int
    cancel_requested: bool
    error_message: str | None
    extend_from_job_id: int | None
    preset: str | None
    source: SourceRead
    deforum_settings: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None


class StatusCounts(BaseModel):
    processing: int
    queued: int


class ProcessingStatus(BaseModel):
    processing: list[JobSummary]
    queue: list[JobSummary]
    counts: StatusCounts = Field(description="Jobs of all users.")


class RenderModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    backend_name: str
    base: str
    width: int
    height: int
    credits_per_frame: int
    enabled: bool


class PresetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    description: str
    settings: dict[str, Any] = Field(description="The schedule values the preset sets.")


class SdInstanceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    url: str
    type: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


def _http_url(value: str) -> str:
    url = AnyHttpUrl(value.strip())
    if url.scheme not in {"http", "https"}:
        raise ValueError("The URL must start with http:// or https://.")
    return str(value.strip()).rstrip("/")


class SdInstanceCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=255)
    url: str = Field(max_length=1024, description="http:// or https:// base URL.")
    type: SdInstanceType
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value)


class SdInstanceUpdate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=255)
    url: str | None = Field(default=None, max_length=1024)
    type: SdInstanceType | None = None
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)


class DeletedMessage(BaseModel):
    message: str


class JsonApiResource(BaseModel):
    type: str
    id: str
    attributes: dict[str, Any]


class JsonApiList(BaseModel):
    data: list[JsonApiResource]
    meta: dict[str, Any] | None = None


class JsonApiDocument(BaseModel):
    data: JsonApiResource
