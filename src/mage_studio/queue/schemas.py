"""The worker protocol: request and response bodies of `/api/workers/*`.

Render workers import this module on machines without a database driver, so it imports
nothing but Pydantic and the standard library. The protocol itself is described in
docs/worker-protocol.md.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

API_PREFIX = "/api/workers"
CLAIM_PATH = f"{API_PREFIX}/claim"
HEARTBEAT_PATH = API_PREFIX + "/jobs/{job_id}/heartbeat"
FRAMES_PATH = API_PREFIX + "/jobs/{job_id}/frames"
RESULT_PATH = API_PREFIX + "/jobs/{job_id}/result"
FAIL_PATH = API_PREFIX + "/jobs/{job_id}/fail"

MAX_CLAIM_WAIT_SECONDS = 30.0
RENDITION_FILE_FIELDS = (
    "rendition_thumbnail_square",
    "rendition_backdrop",
    "rendition_poster",
    "rendition_animated_preview",
)
"""Optional result files of a full render: `rendition_<name>` for each rendition of
`mage_studio.render.studio.RENDITION_NAMES`."""
RESULT_FILE_FIELDS = (
    "video",
    "preview_img",
    "preview_animation",
    "thumbnail",
    "last_frame",
    *RENDITION_FILE_FIELDS,
)
FRAME_CONTENT_TYPES = ("image/jpeg", "image/webp", "image/png")

RenderKindName = Literal["preview", "full"]
GeneratorName = Literal["vid2vid", "deforum", "studio"]
SourceKindName = Literal["video", "image", "gif"]
SeedBehavior = Literal["iter", "fixed", "random", "ladder", "alternate", "schedule"]
EaseCurve = Literal["linear", "ease", "ease-in", "ease-out", "ease-in-out"]

Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[\w.:@/+-]+$"
    ),
]
# Catalog model names are titles people typed, so inner spaces are allowed.
ModelName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[\w .:@/+-]+$"
    ),
]
# Counters are stored in 32-bit integer columns.
MAX_COUNT = 2_147_483_647
# Maximum nesting inside one frame's applied values. The renderer sends two levels.
MAX_APPLIED_DEPTH = 8


def _check_stored_json(value: Any, depth: int = 0) -> None:
    """Raise ValueError for a value the database's JSON columns cannot store.

    PostgreSQL's `json` type rejects NaN and Infinity, and a lone UTF-16 surrogate
    cannot be encoded when the value is read back. NUL characters are stored as the
    escape `\\u0000`, so they pass.
    """
    if depth > MAX_APPLIED_DEPTH:
        raise ValueError(f"Must not be nested more than {MAX_APPLIED_DEPTH} levels.")
    if isinstance(value, str):
        _check_stored_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("Numbers must be finite.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_stored_text(key)
            _check_stored_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_stored_json(item, depth + 1)


def _check_stored_text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("Must be valid Unicode text.") from exc


def _storable_json(value: dict[str, Any]) -> dict[str, Any]:
    _check_stored_json(value)
    return value


def _reject_nul(value: str) -> str:
    """Reject NUL characters, which PostgreSQL cannot store in text."""
    if "\x00" in value:
        raise ValueError("Must not contain NUL characters.")
    return value


Prompt = Annotated[
    str, StringConstraints(max_length=10_000), AfterValidator(_reject_nul)
]
FrameIndex = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$")]
# Frame index (as a string, JSON object keys) -> the values used on that frame.
AppliedValues = dict[
    FrameIndex, Annotated[dict[str, Any], AfterValidator(_storable_json)]
]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class _Body(BaseModel):
    # Unknown keys are ignored so workers and servers of neighbouring versions agree.
    model_config = ConfigDict(extra="ignore")


# --- claim ----------------------------------------------------------------------------


class ClaimRequest(_Body):
    """Queues and capabilities a worker serves; the claim picks the first match."""

    worker_name: Name = Field(
        description="Unique, stable name of one render slot (one job at a time)."
    )
    queues: list[Name] = Field(
        default_factory=list,
        max_length=16,
        description="Queue names served; empty serves every configured queue.",
    )
    generators: list[GeneratorName] = Field(
        default_factory=list,
        max_length=8,
        description="Generators the worker runs; empty runs every generator.",
    )
    models: list[ModelName] = Field(
        default_factory=list,
        max_length=256,
        description="Catalog names of the models the worker can load; empty loads "
        "any model.",
    )
    wait: float = Field(
        default=20.0,
        ge=0,
        le=MAX_CLAIM_WAIT_SECONDS,
        description="Long-poll time in seconds; 204 when nothing came within it.",
    )


class ModelSpec(_Body):
    id: int
    name: str
    backend_name: str
    base: str
    width: int
    height: int


class RenderParams(_Body):
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    cfg_scale: float | None = None
    denoising: float | None = None
    steps: int | None = None
    frame_count: int = Field(ge=0, description="Frames this render produces.")
    fps: str | None = Field(
        default=None, description='Exact frame rate as a fraction, e.g. "24000/1001".'
    )
    length: float | None = Field(default=None, description="Seconds of output.")
    width: int | None = None
    height: int | None = None
    color_match: bool = True
    controlnet: list[dict[str, Any]] | None = None


class SourceSpec(_Body):
    url: str = Field(description="Signed, expiring download URL of the upload.")
    kind: SourceKindName
    width: int | None = None
    height: int | None = None
    fps: str | None = Field(default=None, description="Exact fraction as a string.")
    frame_count: int | None = None
    duration: float | None = None
    has_audio: bool = False


class ExtendFromSpec(_Body):
    job_id: int
    video_url: str | None
    last_frame_url: str | None
    width: int | None = None
    height: int | None = None
    fps: str | None = None
    frame_count: int | None = None


class SteeringValues(BaseModel):
    """Live Deforum values, with the ranges DeforumationQT sends.

    Motion values (translation, rotation, fov) are added to the schedule values;
    strength, cfg and the prompts replace them while their `use_live_*` switch is on.
    An absent value (null) leaves the schedule alone. A change eases from the current
    to the new value over `ease_frames` frames along `ease_curve`.
    """

    model_config = ConfigDict(extra="forbid")

    strength: float | None = Field(default=None, ge=0, le=1)
    cfg: float | None = Field(default=None, ge=1, le=30)
    steps: int | None = Field(default=None, ge=1, le=200)
    seed: int | None = Field(default=None, ge=-1, le=4_294_967_295)
    seed_behavior: SeedBehavior | None = None
    cadence: int | None = Field(default=None, ge=1, le=30)
    noise_multiplier: float | None = Field(default=None, ge=0.01, le=2)
    translation_x: float | None = Field(default=None, ge=-100, le=100)
    translation_y: float | None = Field(default=None, ge=-100, le=100)
    translation_z: float | None = Field(
        default=None, ge=-1, le=1, description="Zoom, added to the zoom schedule."
    )
    rotation_x: float | None = Field(default=None, ge=-360, le=360)
    rotation_y: float | None = Field(default=None, ge=-360, le=360)
    rotation_z: float | None = Field(default=None, ge=-360, le=360)
    fov: float | None = Field(default=None, ge=20, le=120)
    positive_prompt: Prompt | None = None
    negative_prompt: Prompt | None = None
    use_live_strength: bool = False
    use_live_cfg: bool = False
    use_live_prompt: bool = False
    ease_frames: int = Field(default=0, ge=0, le=100)
    ease_curve: EaseCurve = "linear"


class JobSpec(_Body):
    """Everything a worker needs to render one job attempt."""

    job_id: int
    attempt: int = Field(description="Fencing token: send it back with every call.")
    lease_expires_at: datetime
    heartbeat_interval: float = Field(description="Seconds between heartbeats.")
    render: RenderKindName
    generator: GeneratorName
    model: ModelSpec | None
    params: RenderParams
    deforum: dict[str, Any] | None = Field(
        default=None,
        description="Merged Deforum settings (preset, then user overrides).",
    )
    source: SourceSpec | None
    soundtrack_url: str | None = None
    extend_from: ExtendFromSpec | None = None
    steering: SteeringValues | None = None
    studio: dict[str, Any] | None = Field(
        default=None,
        description="For generator studio: the operation, its options and signed "
        "URLs of its inputs (`mage_studio.render.studio.StudioTask`).",
    )


# --- heartbeat ------------------------------------------------------------------------


class HeartbeatRequest(_Body):
    attempt: int = Field(ge=1)
    progress: float = Field(default=0.0, ge=0, le=100)
    frames_done: Count = 0
    frames_total: Count | None = None
    eta_seconds: float | None = Field(default=None, ge=0)
    applied: AppliedValues = Field(
        default_factory=dict,
        description="Steering values used per frame since the last heartbeat.",
    )


class HeartbeatResponse(_Body):
    cancel_requested: bool
    lease_expires_at: datetime
    steering: SteeringValues | None = None


# --- result and failure ---------------------------------------------------------------


class ResultMetadata(_Body):
    """The `metadata` JSON field of a result upload."""

    ignored_settings: list[str] = Field(default_factory=list)
    applied_steering: AppliedValues = Field(default_factory=dict)
    timings: dict[str, FiniteFloat] = Field(default_factory=dict)


class FailRequest(_Body):
    attempt: int = Field(ge=1)
    error: Annotated[
        str, StringConstraints(max_length=4000), AfterValidator(_reject_nul)
    ] = ""
    retryable: bool = False
    cancelled: bool = Field(
        default=False, description="The worker stopped because cancel was requested."
    )
    frames_rendered: Count = 0


class JobAck(_Body):
    """The job's status after a result, failure or preview frame was accepted."""

    job_id: int
    status: str


__all__ = [
    "CLAIM_PATH",
    "FAIL_PATH",
    "FRAMES_PATH",
    "HEARTBEAT_PATH",
    "RENDITION_FILE_FIELDS",
    "RESULT_FILE_FIELDS",
    "RESULT_PATH",
    "AppliedValues",
    "ClaimRequest",
    "ExtendFromSpec",
    "FailRequest",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "JobAck",
    "JobSpec",
    "ModelSpec",
    "RenderParams",
    "ResultMetadata",
    "SourceSpec",
    "SteeringValues",
]


# --- administration (admin routes; account keys are camelCase) ------------------------


class WorkerTokenCreate(BaseModel):
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
        AfterValidator(_reject_nul),
    ] = Field(description="A label telling tokens apart, e.g. the GPU host.")


class WorkerTokenRead(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="First characters of the token, to recognise it.")
    createdById: int | None
    createdAt: datetime
    lastUsedAt: datetime | None
    revokedAt: datetime | None
    revoked: bool


class WorkerTokenCreated(WorkerTokenRead):
    token: str = Field(description="The secret; shown only in this response.")


class WorkerJobRead(BaseModel):
    id: int
    status: str
    attempt: int
    progress: float
    heartbeatAt: datetime | None
    leaseExpiresAt: datetime | None


class WorkerRead(BaseModel):
    id: int
    name: str
    tokenId: int
    queues: list[str]
    generators: list[str]
    models: list[str]
    lastSeenAt: datetime | None
    live: bool
    currentJob: WorkerJobRead | None
