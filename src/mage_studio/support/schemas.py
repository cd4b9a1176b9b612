from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from mage_studio.core.schemas import RowId
from mage_studio.users.schemas import NoNul, strip_or_none

TEXT_MAX_LENGTH = 10_000

SupportText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX_LENGTH),
    NoNul,
]


DATE_FORMAT_MESSAGE = "Use a date (YYYY-MM-DD) or an ISO-8601 date and time."


def _date_or_datetime(value: Any) -> Any:
    """Read "YYYY-MM-DD" as a whole day and anything longer as an instant.

    Numbers, lists and other JSON values are rejected here. Left to the
    `datetime | date` union, a number would be read as unix time, and errors would
    be reported under a member's tag such as `startDate.datetime`.
    """
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(DATE_FORMAT_MESSAGE)
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(DATE_FORMAT_MESSAGE) from exc


def _check_year(value: datetime | date) -> datetime | date:
    if not 1970 <= value.year <= 9000:
        raise ValueError("Use a date between the years 1970 and 9000.")
    return value


# The admin schemas repeat these validators on purpose. With shared validator
# functions, typing would cache this alias and the admin `date | datetime` one as
# one object, because unions compare without order. The `anyOf` order published in
# OpenAPI would then depend on which module is imported first.
DateFilter = Annotated[
    datetime | date,
    BeforeValidator(_date_or_datetime),
    AfterValidator(_check_year),
]


class Label(BaseModel):
    id: int
    label: str


class SupportRequestRead(BaseModel):
    id: int
    authorId: int
    subject: Label
    status: Label
    order_id: int | None
    email: str | None = Field(
        description="Where replies are mailed, if not the account."
    )
    assigneeId: int | None = Field(description="The admin handling the request.")
    createdAt: datetime
    updatedAt: datetime


class SupportRequestCreate(BaseModel):
    text: SupportText
    subject: RowId = Field(description="Id from GET /api/support-request-subjects.")
    orderId: RowId | None = Field(
        default=None, description="One of the caller's orders."
    )
    email: EmailStr | None = None

    _blank = field_validator("orderId", "email", mode="before")(strip_or_none)


class SupportRequestFilters(BaseModel):
    """Filters of the caller's own support requests; dates are inclusive."""

    id: RowId | None = None
    statusId: int | None = Field(default=None, ge=1, le=5)
    startDate: DateFilter | None = Field(
        default=None, description="Created at or after (a date means 00:00 UTC)."
    )
    endDate: DateFilter | None = Field(
        default=None, description="Created at or before (a date includes that day)."
    )
    search: Annotated[str, NoNul] | None = Field(
        default=None,
        max_length=200,
        description="Text to find in the email or the visible replies.",
    )
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=20, ge=1, le=100)

    _blank = field_validator(
        "id", "statusId", "startDate", "endDate", "search", mode="before"
    )(strip_or_none)


class SupportRequestSearch(SupportRequestFilters):
    """Filters over every support request, for administrators."""

    userId: RowId | None = Field(default=None, description="The author.")
    assigneeId: RowId | None = None

    _blank_admin = field_validator("userId", "assigneeId", mode="before")(strip_or_none)


class SupportMessageRead(BaseModel):
    id: int
    supportRequestId: int
    authorId: int | None
    fromStaff: bool = Field(description="Written by someone other than the customer.")
    text: str = Field(description="Plain text; never rendered as HTML.")
    internal: bool = Field(
        description="A staff-only note; customers never receive these entries."
    )
    createdAt: datetime


class SupportMessageCreate(BaseModel):
    supportRequestId: RowId
    text: SupportText
    internal: bool = Field(
        default=False, description="A staff-only note (administrators only)."
    )


class StatusUpdate(BaseModel):
    requestId: RowId
    requestStatusId: int = Field(
        ge=1, le=5, description="1 Open, 2 Closed, 3 Unread, 4 Read, 5 In progress."
    )
    assigneeId: RowId | None = Field(
        default=None,
        description="Administrators only: the admin to assign; null unassigns.",
    )
