"""Request and response bodies of the administration routes.

List filters are query models that forbid unknown parameters, so a misspelt filter
or a sort field outside the allow-list is a 422 instead of being silently ignored.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
)

from mage_studio.billing.models import OrderStatus
from mage_studio.billing.schemas import CamelModel, UserBrief, WalletTypeRead
from mage_studio.core.schemas import MAX_PER_PAGE, PageParams, RowId, SortDirection
from mage_studio.jobs.models import Generator, JobStatus
from mage_studio.users.models import Role
from mage_studio.users.schemas import Email, UserRead, reject_nul, strip_or_none

MAX_PRIORITY_TIER = 2


def _date_or_datetime(value: object) -> object:
    """Read "YYYY-MM-DD" as a whole day and anything longer as an instant."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            "Use a date (YYYY-MM-DD) or an ISO-8601 date and time."
        ) from exc


def _check_year(value: datetime | date) -> datetime | date:
    if not 1970 <= value.year <= 9000:
        raise ValueError("Use a date between the years 1970 and 9000.")
    return value


DateFilter = Annotated[
    date | datetime, BeforeValidator(_date_or_datetime), AfterValidator(_check_year)
]
# Optional filters: strings are trimmed and an empty value means "no filter".
OptionalId = Annotated[RowId | None, BeforeValidator(strip_or_none)]
OptionalText = Annotated[
    Annotated[str, Field(max_length=255), AfterValidator(reject_nul)] | None,
    BeforeValidator(strip_or_none),
]
OptionalDate = Annotated[DateFilter | None, BeforeValidator(strip_or_none)]
RequiredLogin = Annotated[
    str,
    BeforeValidator(lambda value: value.strip() if isinstance(value, str) else value),
    Field(min_length=1, max_length=255),
    AfterValidator(reject_nul),
]


class ListQuery(BaseModel):
    """Page fields shared by every admin list; unknown query parameters are 422."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=20, ge=1, le=MAX_PER_PAGE)

    def page_params(self) -> PageParams:
        return PageParams(page=self.page, per_page=self.per_page)


# --- users -----------------------------------------------------------------------


class UserFilters(ListQuery):
    search: OptionalText = Field(
        default=None,
        description="Literal text found in the login or email (case-insensitive).",
    )
    role: Annotated[Role | None, BeforeValidator(strip_or_none)] = Field(
        default=None, description="Only users holding this role."
    )


class DataStats(BaseModel):
    """How much content a user has, as counted by the purge."""

    video_jobs: int
    products: int = Field(description="Products the user sells (not deleted).")
    orders: int = Field(description="Orders the user bought or sold.")
    finance_operations: int
    messages: int = Field(description="Chat messages the user wrote.")
    chats: int
    support_requests: int
    media: int = Field(description="Stored files of the user's video jobs.")


class AdminUserRead(UserRead):
    """An account as administrators see it: the User shape plus admin fields."""

    active: bool = Field(description="A disabled account cannot sign in.")
    priorityTier: int = Field(description="0 standard; 1 and 2 queue renders sooner.")
    data_stats: DataStats


class UserDataChange(BaseModel):
    """The account fields an administrator sets; omitted optional ones stay."""

    id: RowId
    login: RequiredLogin
    email: Email
    roles: list[Role] | None = Field(
        default=None,
        max_length=len(Role),
        description="The full list of roles; `user` is always kept.",
    )
    active: StrictBool | None = None
    priorityTier: int | None = Field(default=None, ge=0, le=MAX_PRIORITY_TIER)


class UserId(BaseModel):
    id: RowId


class PurgeResult(BaseModel):
    """Counts of the rows and files a purge removed.

    The ledger, orders and finance operations are kept.
    """

    userId: int
    video_jobs: int
    files: int = Field(description="Stored files removed once the purge committed.")
    chats: int = Field(description="Chats with the user, both sides' messages.")
    messages: int = Field(description="Messages in those chats.")
    support_requests: int
    products: int = Field(description="Products hidden and marked deleted.")
    wallets: int = Field(description="Saved wallets hidden and marked deleted.")
    ratings: int = Field(description="Ratings the user wrote.")


# --- finance operations and orders -----------------------------------------------

FinanceSortField = Literal["id", "money", "type", "status", "createdAt", "executedAt"]


class FinanceFilters(ListQuery):
    id: OptionalId = None
    userLogin: OptionalText = Field(
        default=None, description="Literal text found in the owner's login."
    )
    statusId: Annotated[
        Annotated[int, Field(ge=1, le=4)] | None, BeforeValidator(strip_or_none)
    ] = Field(default=None, description="1 created, 2 executed, 3 pending, 4 canceled.")
    startDate: OptionalDate = Field(
        default=None, description="Created at or after (a date means 00:00 UTC)."
    )
    endDate: OptionalDate = Field(
        default=None, description="Created at or before (a date includes that day)."
    )
    orderType: FinanceSortField = "id"
    orderDirection: SortDirection = "desc"


class AdminWalletRead(CamelModel):
    id: int
    info: str = Field(description="The full wallet details, unmasked.")
    type: WalletTypeRead
    deleted_at: datetime | None


class AdminFinanceOperationRead(CamelModel):
    id: int
    money: int = Field(description="Minor units of the currency.")
    type: int = Field(description="1 enrolment (top-up), 2 write-off (withdrawal).")
    status: int = Field(description="1 created, 2 executed, 3 pending, 4 canceled.")
    user: UserBrief
    wallet: AdminWalletRead
    created_at: datetime
    executed_at: datetime | None
    canceled_at: datetime | None
    canceled_info: str | None


class OrderFilters(ListQuery):
    id: OptionalId = None
    userCustomerLogin: OptionalText = Field(
        default=None, description="Literal text found in the customer's login."
    )
    userSellerLogin: OptionalText = Field(
        default=None, description="Literal text found in the seller's login."
    )
    status: Annotated[OrderStatus | None, BeforeValidator(strip_or_none)] = None


class OrderStatusChange(BaseModel):
    orderId: RowId = Field(validation_alias=AliasChoices("orderId", "id"))
    status: OrderStatus


# --- content ---------------------------------------------------------------------


class VideoJobFilters(ListQuery):
    userId: OptionalId = None
    status: Annotated[JobStatus | None, BeforeValidator(strip_or_none)] = None
    generator: Annotated[Generator | None, BeforeValidator(strip_or_none)] = None


# --- audit log -------------------------------------------------------------------


class AuditFilters(ListQuery):
    actor: OptionalId = Field(default=None, description="Id of the acting user.")
    action: OptionalText = Field(
        default=None, description="Exact action, e.g. `user.updated`."
    )
    target_type: OptionalText = Field(
        default=None, description="Exact target type, e.g. `user` or `order`."
    )
    target_id: OptionalText = None


class AuditEntryRead(CamelModel):
    id: int
    actor_id: int | None = Field(description="Null when the system acted.")
    actor: UserBrief | None = Field(description="Null when the account is gone.")
    action: str
    target_type: str
    target_id: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    created_at: datetime


# --- service status --------------------------------------------------------------

CheckStatus = Literal["ok", "failed"]


class ServiceCheck(BaseModel):
    name: str
    status: CheckStatus
    details: dict[str, Any] | None = Field(
        default=None,
        description="Latency, counts and errors; shown to administrators only.",
    )


class StatusReport(BaseModel):
    status: CheckStatus = Field(description="`failed` when any check failed.")
    services: list[ServiceCheck]
