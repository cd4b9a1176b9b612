"""Response envelopes, list metadata, and the row id and sort direction types
shared by every domain."""

from __future__ import annotations

from math import ceil
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")

MAX_PER_PAGE = 100
# Ids fit a 32-bit INTEGER column, so larger ones fail validation (422) before any
# query reaches the database.
MAX_ROW_ID = 2_147_483_647

RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


def _lower_sort_direction(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


# Older clients send `ASC`/`DESC`, so the direction is matched case-insensitively
# against the same allow-list.
SortDirection = Annotated[
    Literal["asc", "desc"], BeforeValidator(_lower_sort_direction)
]


class Envelope(BaseModel, Generic[T]):
    """`{"data": ...}`: the wrapper of every non-video endpoint."""

    data: T


class Message(BaseModel):
    msg: str


class PageMeta(BaseModel):
    current_page: int
    per_page: int
    total: int
    last_page: int


class Page(BaseModel, Generic[T]):
    """A page of a list: `{"data": [...], "meta": {...}}`."""

    data: list[T]
    meta: PageMeta


class PageParams(BaseModel):
    model_config = ConfigDict(frozen=True)

    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def meta(self, total: int) -> PageMeta:
        return PageMeta(
            current_page=self.page,
            per_page=self.per_page,
            total=total,
            last_page=max(1, ceil(total / self.per_page)),
        )


def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> PageParams:
    return PageParams(page=page, per_page=per_page)
