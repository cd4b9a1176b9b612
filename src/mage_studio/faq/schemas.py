from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator

from mage_studio.users.schemas import NoNul

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Slug = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=120, pattern=SLUG_PATTERN
    ),
]
QuestionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NoNul
]
AnswerText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000),
    NoNul,
]
Position = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class QuestionRead(BaseModel):
    id: int
    slug: str
    question: str
    answer: str = Field(description="Plain text; never rendered as HTML.")
    position: int
    createdAt: datetime
    updatedAt: datetime


class QuestionCreate(BaseModel):
    question: QuestionText
    answer: AnswerText
    slug: Slug | None = Field(
        default=None,
        description="Lower-case words joined by hyphens; made from the question "
        "when absent.",
    )
    position: Position = 0

    _blank = field_validator("slug", mode="before")(_blank_to_none)


class QuestionUpdate(BaseModel):
    """Fields to change; absent fields keep their value."""

    question: QuestionText | None = None
    answer: AnswerText | None = None
    slug: Slug | None = None
    position: Position | None = None

    _blank = field_validator("slug", mode="before")(_blank_to_none)
