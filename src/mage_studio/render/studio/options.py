"""Options of studio jobs: exports, compositions, concatenations and audio edits.

The API validates requests with these models and stores them, with their client
(camelCase) names, in the job's `generation_parameters["options"]`. The worker
reads them back with the same models, so both sides apply the same ranges and
defaults. Unknown keys are rejected, so a typo in a request is a 422, not a
silently ignored option.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

Operation = Literal["export", "composition", "concat", "audio"]
Aspect = Literal["original", "9:16", "1:1", "16:9"]
Position = Literal["top-left", "top-right", "bottom-left", "bottom-right", "center"]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
Layout = Literal["side-by-side", "wipe", "crossfade", "pip"]
AudioMode = Literal["replace", "mix", "original", "mute"]

ASPECT_RATIOS: dict[str, Fraction] = {
    "9:16": Fraction(9, 16),
    "1:1": Fraction(1),
    "16:9": Fraction(16, 9),
}
"""Width / height of each export aspect except "original"."""

MIN_HEIGHT = 144
MAX_HEIGHT = 2160
MAX_CONCAT_JOBS = 20
MAX_GAIN = 2.0
MIN_DB = -60.0
MAX_DB = 6.0
"""+6 dB is a gain of about 2, the largest linear gain accepted."""

_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
RGB = tuple[int, int, int]


def _normalise_color(value: str) -> str:
    text = value.strip()
    if not _HEX_COLOR.match(text):
        raise ValueError("Use a hex colour such as #000000 or #fff.")
    digits = text[1:]
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return "#" + digits.lower()


def parse_color(value: str) -> RGB:
    """Return the (red, green, blue) of a "#rrggbb" or "#rgb" colour."""
    digits = _normalise_color(value)[1:]
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


HexColor = Annotated[str, AfterValidator(_normalise_color)]
MaxHeight = Annotated[
    int,
    Field(
        ge=MIN_HEIGHT,
        le=MAX_HEIGHT,
        description="Largest output height in pixels (rounded down to even), "
        "e.g. 720 or 1080.",
    ),
]


class StudioModel(BaseModel):
    """Base of the option models: camelCase names, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )

    def stored(self) -> dict[str, Any]:
        """Return the options as stored in `generation_parameters` (client names)."""
        return self.model_dump(mode="json", by_alias=True)


class Focus(StudioModel):
    """Point of the picture that a crop keeps in view, in fractions of its size."""

    x: float = Field(default=0.5, ge=0, le=1, description="0 left edge, 1 right edge.")
    y: float = Field(default=0.5, ge=0, le=1, description="0 top edge, 1 bottom edge.")


class Background(StudioModel):
    """Fill of the bars when the picture is padded to another aspect."""

    type: Literal["blur", "color"] = Field(
        default="blur",
        description="blur: the picture itself, enlarged and blurred; color: a solid "
        "colour.",
    )
    color: HexColor = Field(default="#000000", description="Bar colour for color.")


class WatermarkPlacement(StudioModel):
    """Position, size and opacity of the user's watermark on every frame."""

    position: Position = "bottom-right"
    margin: float = Field(
        default=0.03,
        ge=0,
        le=0.25,
        description="Gap to the frame edges as a fraction of the frame's shorter side.",
    )
    opacity: float = Field(default=0.8, ge=0, le=1)
    scale: float = Field(
        default=0.2,
        ge=0.02,
        le=1,
        description="Watermark width as a fraction of the frame width.",
    )


class ExportOptions(StudioModel):
    """Re-frame a finished video to another aspect and size."""

    aspect: Aspect = Field(default="original", description="Output aspect ratio.")
    fit: Literal["crop", "pad"] = Field(
        default="crop",
        description="crop: fill the frame and cut the overflow; pad: show the whole "
        "picture with bars.",
    )
    focus: Focus | None = Field(
        default=None, description="Crop only: the point kept in view (default centre)."
    )
    background: Background = Field(
        default_factory=Background, description="Pad only: what fills the bars."
    )
    max_height: MaxHeight | None = None
    upscale: bool = Field(
        default=False,
        description="Scale up to maxHeight when the picture is smaller; otherwise "
        "the output is never larger than the picture it shows.",
    )
    watermark: WatermarkPlacement | None = Field(
        default=None, description="Draw the uploaded watermark."
    )

    @field_validator("focus")
    @classmethod
    def _focus_needs_crop(cls, value: Focus | None, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("fit") == "pad":
            raise ValueError("focus applies only when fit is crop.")
        return value

    @field_validator("background")
    @classmethod
    def _background_needs_pad(cls, value: Background, info: ValidationInfo) -> Any:
        if info.data.get("fit") == "crop" and value != Background():
            raise ValueError("background applies only when fit is pad.")
        return value


class SideBySide(StudioModel):
    order: Literal["source-first", "generated-first"] = Field(
        default="source-first", description="Which picture is on the left."
    )
    gap: int = Field(default=0, ge=0, le=64, description="Pixels between the pictures.")
    gap_color: HexColor = "#000000"


class Wipe(StudioModel):
    """Before/after: the source on one side of a divider, the result on the other."""

    direction: Literal["horizontal", "vertical"] = Field(
        default="horizontal",
        description="horizontal: the divider moves left and right (source on the "
        "left); vertical: it moves up and down (source on top).",
    )
    divider: Literal["moving", "fixed"] = "moving"
    position: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Fixed divider: its place as a fraction of the width or height.",
    )
    period: float = Field(
        default=4.0,
        ge=0.5,
        le=120,
        description="Moving divider: seconds for one sweep across and back. It "
        "starts showing only the source.",
    )
    line_width: int = Field(default=2, ge=0, le=16, description="Divider pixels.")
    line_color: HexColor = "#ffffff"


class Crossfade(StudioModel):
    """Dissolve from the source into the generated look."""

    start: float = Field(
        default=0, ge=0, le=3600, description="Seconds of source before the fade."
    )
    seconds: float = Field(
        default=2.0, gt=0, le=60, description="Length of the fade in seconds."
    )


class PictureInPicture(StudioModel):
    corner: Corner = "bottom-right"
    scale: float = Field(
        default=0.3, ge=0.1, le=0.5, description="Inset width / frame width."
    )
    margin: float = Field(
        default=0.03,
        ge=0,
        le=0.2,
        description="Gap to the frame edges as a fraction of the frame's shorter side.",
    )
    inset: Literal["source", "generated"] = Field(
        default="source", description="Which picture is the small one."
    )
    border: int = Field(default=2, ge=0, le=16, description="Inset border pixels.")
    border_color: HexColor = "#ffffff"


LAYOUT_FIELDS: dict[str, str] = {
    "side-by-side": "side_by_side",
    "wipe": "wipe",
    "crossfade": "crossfade",
    "pip": "pip",
}
"""The options field that belongs to each layout."""


class CompositionOptions(StudioModel):
    """Show a job's source and its generated video together."""

    layout: Layout
    side_by_side: SideBySide = Field(default_factory=SideBySide)
    wipe: Wipe = Field(default_factory=Wipe)
    crossfade: Crossfade = Field(default_factory=Crossfade)
    pip: PictureInPicture = Field(default_factory=PictureInPicture)
    audio: Literal["generated", "source", "none"] = Field(
        default="generated", description="Which audio the composition keeps."
    )
    max_height: MaxHeight | None = None
    watermark: WatermarkPlacement | None = None

    @field_validator("side_by_side", "wipe", "crossfade", "pip")
    @classmethod
    def _matches_layout(cls, value: StudioModel, info: ValidationInfo) -> Any:
        layout = info.data.get("layout")
        if layout is not None and LAYOUT_FIELDS[layout] != info.field_name:
            raise ValueError(f"These options do not apply to the {layout} layout.")
        return value

    def stored(self) -> dict[str, Any]:
        """Return the options with only the chosen layout's settings."""
        data = super().stored()
        for layout, field_name in LAYOUT_FIELDS.items():
            if layout != self.layout:
                data.pop(to_camel(field_name), None)
        return data


class ConcatOptions(StudioModel):
    """Join several finished videos into one."""

    fps: float | None = Field(
        default=None,
        gt=0,
        le=120,
        description="Output frame rate; default the first video's. 29.97 and "
        "similar values mean the exact NTSC rates (30000/1001).",
    )
    background: HexColor = Field(
        default="#000000",
        description="Bar colour where a video's aspect differs from the first's.",
    )
    max_height: MaxHeight | None = None
    watermark: WatermarkPlacement | None = None


def db_to_gain(decibels: float) -> float:
    """Convert a level in dB to a linear amplitude gain (-60 dB or less is 0)."""
    if decibels <= MIN_DB:
        return 0.0
    return float(10 ** (decibels / 20))


class AudioOptions(StudioModel):
    """Replace, mix or reshape a finished video's audio; the picture is copied."""

    mode: AudioMode = Field(
        default="replace",
        description="replace: the soundtrack only; mix: soundtrack and original "
        "audio; original: the original audio only (levels and fades); mute: no audio.",
    )
    soundtrack_gain: float | None = Field(
        default=None, ge=0, le=MAX_GAIN, description="Linear gain, 1 = unchanged."
    )
    soundtrack_db: float | None = Field(
        default=None, ge=MIN_DB, le=MAX_DB, description="Level change in dB."
    )
    original_gain: float | None = Field(default=None, ge=0, le=MAX_GAIN)
    original_db: float | None = Field(default=None, ge=MIN_DB, le=MAX_DB)
    fade_in: float = Field(
        default=0, ge=0, le=30, description="Seconds the output fades in."
    )
    fade_out: float = Field(
        default=0, ge=0, le=30, description="Seconds the output fades out."
    )
    fit: Literal["trim", "loop"] = Field(
        default="trim",
        description="A soundtrack shorter than the video: trim leaves silence after "
        "it, loop repeats it. A longer one is always cut at the video's end.",
    )
    soundtrack_start: float = Field(
        default=0,
        ge=0,
        le=3600,
        description="Seconds skipped at the start of the soundtrack.",
    )

    @field_validator("soundtrack_db", "original_db")
    @classmethod
    def _one_level(cls, value: float | None, info: ValidationInfo) -> Any:
        db_field = str(info.field_name)
        gain_field = db_field.removesuffix("_db") + "_gain"
        if value is not None and info.data.get(gain_field) is not None:
            raise ValueError(
                f"Send either {to_camel(gain_field)} or {to_camel(db_field)}, not both."
            )
        return value

    @property
    def needs_soundtrack(self) -> bool:
        return self.mode in ("replace", "mix")

    @property
    def uses_original(self) -> bool:
        return self.mode in ("mix", "original")

    @property
    def soundtrack_level(self) -> float:
        return _level(self.soundtrack_gain, self.soundtrack_db)

    @property
    def original_level(self) -> float:
        return _level(self.original_gain, self.original_db)


def _level(gain: float | None, decibels: float | None) -> float:
    if gain is not None:
        return gain
    if decibels is not None:
        return db_to_gain(decibels)
    return 1.0


OPTION_MODELS: dict[str, type[StudioModel]] = {
    "export": ExportOptions,
    "composition": CompositionOptions,
    "concat": ConcatOptions,
    "audio": AudioOptions,
}
"""The options model of each studio operation."""
