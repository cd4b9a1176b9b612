"""Request bodies of generate and finalize, validated field by field.

The bodies are validated by hand, after the caller is authenticated and `videoId` is
known to be theirs, so a stranger's job id gets a 404 before any other field is
reported. Field names in errors are the client's (`cfgScale`,
`controlnet.0.weight`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mage_studio.errors import ValidationFailed, field_name, validation_errors
from mage_studio.users.schemas import NoNul

MAX_SEED = 4_294_967_295
# Row ids are 32-bit integers on PostgreSQL; larger values cannot name a row.
MAX_ID = 2_147_483_647
MAX_PROMPT = 4000


def _no_bool(value: Any) -> Any:
    # JSON true/false must not pass as the numbers 1 and 0.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


BodyT = TypeVar("BodyT", bound=BaseModel)
Int = Annotated[int, BeforeValidator(_no_bool)]
Number = Annotated[float, BeforeValidator(_no_bool)]
NulFreeStr = Annotated[str, NoNul]

# Friendlier messages for range and type errors of the documented fields.
_FIELD_MESSAGES = {
    "videoId": "videoId must be an integer.",
    "modelId": "modelId must be the id of an enabled model.",
    "cfgScale": "cfgScale must be an integer from 2 to 10.",
    "denoising": "denoising must be a number from 0.1 to 1.0.",
    "frameCount": "frameCount must be an integer from 1 to 20.",
    "length": "length must be a number of seconds from 1 to 20.",
    "fps": "fps must be a number from 1 to 60.",
    "seed": f"seed must be an integer of at most {MAX_SEED}.",
    "extendFromJobId": f"extendFromJobId must be a job id from 1 to {MAX_ID}.",
}
_TYPE_AND_RANGE_ERRORS = {
    "int_type",
    "int_parsing",
    # An integer field given a float too large to convert (1e308).
    "int_parsing_size",
    "int_from_float",
    "float_type",
    "float_parsing",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "value_error",
    "finite_number",
}


class _Body(BaseModel):
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, str_strip_whitespace=True
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_strings_are_absent(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            key: value
            for key, value in data.items()
            if not (value is None or (isinstance(value, str) and not value.strip()))
        }


class ControlNetUnit(BaseModel):
    """One ControlNet unit; keys besides `weight` are passed to the backend as sent."""

    model_config = ConfigDict(extra="allow")

    weight: Number = Field(ge=0, le=2, description="Unit weight, 0–2.")
    enabled: bool = True
    module: str | None = None
    model: str | None = None
    guidance_start: Number = Field(default=0.0, ge=0, le=1)
    guidance_end: Number = Field(default=1.0, ge=0, le=1)


class RenderRequest(_Body):
    """Fields shared by vid2vid and Deforum generate requests."""

    video_id: Int = Field(
        alias="videoId", ge=1, le=MAX_ID, description="The uploaded job."
    )
    type: Literal["vid2vid", "deforum"]
    model_id: Int | None = Field(default=None, alias="modelId", ge=1, le=MAX_ID)
    prompt: NulFreeStr | None = Field(default=None, max_length=MAX_PROMPT)
    negative_prompt: NulFreeStr | None = Field(default=None, max_length=MAX_PROMPT)
    seed: Int | None = Field(
        default=None,
        le=MAX_SEED,
        description="0, negative or absent: a random seed is chosen and stored.",
    )
    denoising: Number | None = Field(default=None, ge=0.1, le=1.0)
    cfg_scale: Int | None = Field(default=None, alias="cfgScale", ge=2, le=10)
    frame_count: Int = Field(
        default=1, alias="frameCount", ge=1, le=20, description="Preview frames."
    )
    extend_from_job_id: Int | None = Field(
        default=None, alias="extendFromJobId", ge=1, le=MAX_ID
    )


class Vid2VidRequest(RenderRequest):
    """POST /api/generate for a vid2vid restyle of the uploaded clip or image."""

    type: Literal["vid2vid"]
    model_id: Int = Field(alias="modelId", ge=1, le=MAX_ID)
    prompt: NulFreeStr = Field(min_length=1, max_length=MAX_PROMPT)
    cfg_scale: Int = Field(default=7, alias="cfgScale", ge=2, le=10)
    denoising: Number = Field(default=0.5, ge=0.1, le=1.0)
    controlnet: list[ControlNetUnit] | None = Field(default=None, max_length=8)


class DeforumRequest(RenderRequest):
    """POST /api/generate for a Deforum animation.

    `modelId`, `prompt` and `preset` are required unless `extendFromJobId` is given:
    an extension inherits model, fps, size and settings from its base job.
    """

    type: Literal["deforum"]
    preset: NulFreeStr | None = Field(default=None, max_length=64)
    length: Number | None = Field(default=None, ge=1, le=20, description="Seconds.")
    fps: Number | None = Field(default=None, ge=1, le=60, description="Default 24.")
    settings: dict[str, Any] | None = Field(
        default=None,
        description="Deforum overrides (schedules, cadence, prompts by frame) or a "
        "whole saved Deforum settings file as a JSON object.",
    )

    @model_validator(mode="after")
    def _required_unless_extending(self) -> DeforumRequest:
        if self.extend_from_job_id is not None:
            return self
        missing = {
            "modelId": self.model_id is None,
            "prompt": not self.prompt,
            "preset": not self.preset,
        }
        problems = {
            name: ["This field is required."]
            for name, is_missing in missing.items()
            if is_missing
        }
        if problems:
            raise _MissingFields(problems)
        return self


class FinalizeRequest(_Body):
    """POST /api/finalize: queue the full render; Deforum may override a few fields."""

    video_id: Int = Field(alias="videoId", ge=1, le=MAX_ID)
    model_id: Int | None = Field(default=None, alias="modelId", ge=1, le=MAX_ID)
    prompt: NulFreeStr | None = Field(default=None, max_length=MAX_PROMPT)
    preset: NulFreeStr | None = Field(default=None, max_length=64)
    length: Number | None = Field(default=None, ge=1, le=20)
    seed: Int | None = Field(default=None, le=MAX_SEED)

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str | None) -> str | None:
        return value or None


class _MissingFields(ValueError):
    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("required fields are missing")
        self.problems = problems


def read_video_id(body: Any) -> int:
    """Return the `videoId` of a request body, or raise a 422 for it."""
    if not isinstance(body, dict):
        raise ValidationFailed.field("body", "The body must be a JSON object.")
    value = body.get("videoId")
    if value is None or value == "":
        raise ValidationFailed.field("videoId", "This field is required.")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_ID
    ):
        raise ValidationFailed.field("videoId", _FIELD_MESSAGES["videoId"])
    return value


def parse(model: type[BodyT], body: dict[str, Any]) -> BodyT:
    """Validate `body` against `model`, raising `ValidationFailed` with client names."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise invalid(_messages(exc)) from exc


def invalid(validator: dict[str, list[str]]) -> ValidationFailed:
    """Build a 422 whose message names the first invalid field."""
    name, messages = next(iter(validator.items()))
    return ValidationFailed(validator, f"{name}: {messages[0]}")


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    errors = exc.errors()
    for error in errors:
        # A model validator's own problems come back wrapped in a value error.
        context = error.get("ctx") or {}
        missing = context.get("error")
        if isinstance(missing, _MissingFields):
            return missing.problems
    validator = validation_errors(errors)
    for error in errors:
        name = field_name(error.get("loc", ()))
        if name in _FIELD_MESSAGES and error.get("type") in _TYPE_AND_RANGE_ERRORS:
            validator[name] = [_FIELD_MESSAGES[name]]
    return validator
