"""Request and response bodies of the studio API (`/api/studio/*`, wrapped in `data`).

Requests use the client's camelCase names and the option models of
`mage_studio.render.studio.options`, so the API and the workers apply the same
ranges. Response keys are snake_case, like the video job responses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from mage_studio.jobs.schemas import Queue
from mage_studio.render.media.timeline import parse_rate
from mage_studio.render.studio.options import (
    LAYOUT_FIELDS,
    AudioOptions,
    CompositionOptions,
    ConcatOptions,
    Crossfade,
    ExportOptions,
    HexColor,
    MaxHeight,
    PictureInPicture,
    SideBySide,
    StudioModel,
    WatermarkPlacement,
    Wipe,
)
from mage_studio.render.studio.renditions import RENDITION_NAMES

MAX_ID = 2_147_483_647
JobId = Annotated[int, Field(ge=1, le=MAX_ID)]
CompositionLayout = Literal["side-by-side", "wipe", "crossfade", "pip", "concat"]
CONCAT = "concat"
CONCAT_ONLY = ("job_ids", "fps", "background")
NOT_FOR_CONCAT = ("source_job_id", "audio")


class ExportRequest(ExportOptions):
    """POST /api/studio/exports."""

    source_job_id: JobId = Field(description="A finished job of the caller.")

    def options(self) -> ExportOptions:
        return ExportOptions.model_validate(
            self.model_dump(exclude={"source_job_id"}, exclude_unset=True)
        )


class AudioRequest(AudioOptions):
    """POST /api/studio/audio (JSON, or multipart/form-data with a soundtrack)."""

    source_job_id: JobId = Field(description="A finished job of the caller.")

    def options(self) -> AudioOptions:
        return AudioOptions.model_validate(
            self.model_dump(exclude={"source_job_id"}, exclude_unset=True)
        )


class CompositionRequest(StudioModel):
    """POST /api/studio/compositions.

    Layouts side-by-side, wipe, crossfade and pip compose `sourceJobId`'s upload
    with its generated video; concat joins the finished videos of `jobIds`.
    """

    layout: CompositionLayout
    source_job_id: JobId | None = Field(
        default=None,
        description="The finished job whose source and result are composed "
        "(every layout but concat).",
    )
    job_ids: list[JobId] | None = Field(
        default=None,
        min_length=2,
        max_length=20,
        description="concat: the finished jobs to join, in order (2-20).",
    )
    side_by_side: SideBySide | None = None
    wipe: Wipe | None = None
    crossfade: Crossfade | None = None
    pip: PictureInPicture | None = None
    audio: Literal["generated", "source", "none"] | None = Field(
        default=None, description="Audio kept (default generated); not for concat."
    )
    fps: float | None = Field(
        default=None, gt=0, le=120, description="concat: output frame rate."
    )
    background: HexColor | None = Field(
        default=None, description="concat: bar colour (default #000000)."
    )
    max_height: MaxHeight | None = None
    watermark: WatermarkPlacement | None = None

    @field_validator("source_job_id", "job_ids")
    @classmethod
    def _allowed_per_layout(cls, value: Any, info: ValidationInfo) -> Any:
        layout = info.data.get("layout")
        if layout is None or value is None:
            return value
        if (layout == CONCAT) != (info.field_name == "job_ids"):
            raise ValueError(f"This field does not apply to the {layout} layout.")
        return value

    def missing_field(self) -> str | None:
        """Return the client name of the job field the layout needs but lacks."""
        if self.layout == CONCAT:
            return "jobIds" if self.job_ids is None else None
        return "sourceJobId" if self.source_job_id is None else None

    @field_validator("side_by_side", "wipe", "crossfade", "pip", "audio")
    @classmethod
    def _matches_layout(cls, value: Any, info: ValidationInfo) -> Any:
        layout = info.data.get("layout")
        if value is None or layout is None:
            return value
        if info.field_name == "audio":
            allowed = layout != CONCAT
        else:
            allowed = LAYOUT_FIELDS.get(layout) == info.field_name
        if not allowed:
            raise ValueError(f"This field does not apply to the {layout} layout.")
        return value

    @field_validator("fps", "background")
    @classmethod
    def _concat_only(cls, value: Any, info: ValidationInfo) -> Any:
        layout = info.data.get("layout")
        if value is not None and layout is not None and layout != CONCAT:
            raise ValueError(f"This field does not apply to the {layout} layout.")
        return value

    @field_validator("fps")
    @classmethod
    def _representable_rate(cls, value: float | None) -> float | None:
        # `parse_rate` snaps a float to the nearest fraction with a denominator of at
        # most 1001, so a rate below 1/2002 fps becomes 0 and is rejected there.
        if value is None:
            return value
        try:
            parse_rate(value)
        except ValueError as exc:
            message = f"The rate {value} fps rounds to 0. Send at least 0.001."
            raise ValueError(message) from exc
        return value

    @property
    def operation(self) -> Literal["composition", "concat"]:
        return "concat" if self.layout == CONCAT else "composition"

    @property
    def source_ids(self) -> list[int]:
        if self.layout == CONCAT:
            return list(self.job_ids or [])
        assert self.source_job_id is not None
        return [self.source_job_id]

    def options(self) -> CompositionOptions | ConcatOptions:
        """Return the worker options of the chosen layout."""
        data = self.model_dump(
            exclude={"source_job_id", "job_ids"}, exclude_none=True, by_alias=True
        )
        if self.layout == CONCAT:
            data.pop("layout")
            return ConcatOptions.model_validate(data)
        return CompositionOptions.model_validate(data)


class StudioUrls(BaseModel):
    """Signed, expiring download links; null while a file does not exist."""

    video: str | None
    thumbnail: str | None
    preview_img: str | None
    preview_animation: str | None
    last_frame: str | None
    soundtrack: str | None = Field(description="The soundtrack an audio job used.")
    thumbnail_square: str | None = Field(description="Square JPEG, up to 512 px.")
    backdrop: str | None = Field(description="16:9 JPEG, up to 1280 px wide.")
    poster: str | None = Field(description="9:16 JPEG, up to 1280 px high.")
    animated_preview: str | None = Field(description="Animated WebP, about 3 s.")


assert set(RENDITION_NAMES) <= set(StudioUrls.model_fields)


class StudioJobRead(BaseModel):
    """A studio job: its request, and the status fields of every video job."""

    id: int
    status: str
    operation: str = Field(description="export, composition, concat or audio.")
    source_job_ids: list[int]
    options: dict[str, Any] = Field(description="The options, with defaults applied.")
    progress: float
    estimated_time_left: float
    job_time: float
    queued_at: int | None = Field(description="Unix seconds.")
    queue: Queue
    retries: int
    width: int | None
    height: int | None
    fps: float | None
    frame_count: int | None
    length: float | None = Field(description="Seconds of output.")
    credits_reserved: int = Field(description="Credits held while queued or running.")
    cancel_requested: bool
    error_message: str | None
    urls: StudioUrls
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class WatermarkRead(BaseModel):
    width: int
    height: int
    has_alpha: bool
    size: int = Field(description="Bytes.")
    url: str = Field(description="Signed, expiring link to the PNG.")
    created_at: datetime
    updated_at: datetime
