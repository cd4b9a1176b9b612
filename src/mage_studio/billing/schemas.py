"""Request and response bodies of the billing routes (camelCase on the wire).

Amounts in requests are strict JSON integers: floats (even 1.0), strings, booleans
and values beyond 2**63 - 1 are rejected with 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)
from pydantic.alias_generators import to_camel

from mage_studio.billing.ledger import MAX_AMOUNT
from mage_studio.core.schemas import PageMeta

INT32_MAX = 2**31 - 1
MAX_PRIORITY_TIER = 10


def _reject_nul(value: str) -> str:
    # PostgreSQL text cannot store NUL characters.
    if "\x00" in value:
        raise ValueError("Must not contain NUL characters.")
    return value


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return _strip(value)


Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]
NonNegativeAmount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
RowId = Annotated[StrictInt, Field(ge=1, le=INT32_MAX)]


def _optional_no_nul(value: str | None) -> str | None:
    return None if value is None else _reject_nul(value)


_Required = (BeforeValidator(_strip), AfterValidator(_reject_nul))
_Optional = (BeforeValidator(_blank_to_none), AfterValidator(_optional_no_nul))

# Required strings are trimmed and non-empty; optional ones treat blank as absent.
Name = Annotated[str, Field(min_length=1, max_length=255), *_Required]
WalletInfo = Annotated[str, Field(min_length=1, max_length=255), *_Required]
LongText = Annotated[str, Field(min_length=1, max_length=2000), *_Required]
OptionalDescription = Annotated[str | None, Field(max_length=5000), *_Optional]
OptionalNote = Annotated[str | None, Field(max_length=1000), *_Optional]
OptionalWalletInfo = Annotated[str | None, Field(max_length=255), *_Optional]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# --- shared ---------------------------------------------------------------------


class UserBrief(CamelModel):
    id: int
    login: str


# --- wallets --------------------------------------------------------------------


class WalletTypeRead(CamelModel):
    id: int
    name: str
    wallet_symbol: str


class UserWalletRead(CamelModel):
    id: int
    info: str = Field(description="Masked: every character but the last 4 is `*`.")
    type: WalletTypeRead


class UserWalletCreate(CamelModel):
    info: WalletInfo
    wallet_type_id: RowId


class UserWalletUpdate(UserWalletCreate):
    id: RowId


# --- finance operations ---------------------------------------------------------


class FinanceOperationRead(CamelModel):
    id: int
    money: int = Field(description="Minor units of the currency.")
    type: int = Field(description="1 enrolment (top-up), 2 write-off (withdrawal).")
    status: int = Field(description="1 created, 2 executed, 3 pending, 4 canceled.")
    wallet: UserWalletRead
    created_at: datetime
    executed_at: datetime | None
    canceled_at: datetime | None
    canceled_info: str | None


class FinanceOperationCreate(CamelModel):
    money: Amount
    type: Annotated[StrictInt, Field(ge=1, le=2)]
    wallet_id: RowId | None = None
    info: OptionalWalletInfo = None
    type_id: RowId | None = None

    @model_validator(mode="after")
    def _wallet_given(self) -> FinanceOperationCreate:
        if self.wallet_id is None and (self.info is None or self.type_id is None):
            raise ValueError("Give walletId, or info and typeId for a new wallet.")
        return self


class FinanceOperationCancel(CamelModel):
    cancel_info: OptionalNote = None


class FinanceOperationStatusChange(CamelModel):
    id: RowId
    status: Annotated[StrictInt, Field(ge=1, le=4)]


# --- catalog --------------------------------------------------------------------


class CategoryRead(CamelModel):
    id: int
    name: str
    slug: str
    description: str | None
    parent_id: int | None
    products_count: int


class ProductRead(CamelModel):
    id: int
    category_id: int
    name: str
    description: str | None
    price: int = Field(description="Minor units of the currency.")
    credits: int = Field(description="Credits granted per item (platform packs).")
    priority_tier: int | None
    active: bool
    availability: int | None = Field(description="Items left; null is unlimited.")
    user: UserBrief | None = Field(description="The seller; null for the platform.")
    created_at: datetime


class ProductWrite(CamelModel):
    category_id: RowId
    name: Name
    description: OptionalDescription = None
    price: NonNegativeAmount
    credits: NonNegativeAmount = 0
    priority_tier: Annotated[StrictInt, Field(ge=1, le=MAX_PRIORITY_TIER)] | None = None
    availability: Annotated[StrictInt, Field(ge=0, le=INT32_MAX)] | None = None
    active: StrictBool = True


# --- orders and ratings ---------------------------------------------------------


class OrderCreate(CamelModel):
    product_id: RowId
    quantity: Annotated[StrictInt, Field(ge=1, le=INT32_MAX)] = 1


class OrderConfirm(CamelModel):
    order_id: RowId


class OrderRead(CamelModel):
    id: int
    product_id: int
    product_name: str
    quantity: int
    price: int = Field(description="Unit price when ordered, in minor units.")
    credits: int = Field(description="Credits per item when ordered.")
    total_price: int
    total_credits: int
    priority_tier: int | None
    status: str
    customer: UserBrief
    seller: UserBrief | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class UserRatingCreate(CamelModel):
    order_id: RowId
    rating: Annotated[StrictInt, Field(ge=1, le=5)]
    text: LongText


class UserRatingRead(CamelModel):
    id: int
    order_id: int
    user_id: int = Field(description="The rated seller.")
    rating: int
    text: str
    author: UserBrief
    created_at: datetime


# --- credits --------------------------------------------------------------------


class AccountBalance(CamelModel):
    unit: str = Field(description="`credits`, or the currency code for money.")
    posted: int
    held: int
    available: int


class LedgerEntryRead(CamelModel):
    id: int
    transfer_id: str
    kind: str = Field(description="What the transfer was for, e.g. render_capture.")
    account: str = Field(description="`balance` or `credits`.")
    unit: str
    amount: int = Field(description="Positive adds to the account, negative takes.")
    memo: str | None
    created_at: datetime


class CreditsSummary(CamelModel):
    credits: AccountBalance
    balance: AccountBalance
    entries: list[LedgerEntryRead] = Field(description="Newest first; see `meta`.")


class CreditsPage(BaseModel):
    """The caller's balances and one page of their ledger entries."""

    data: CreditsSummary
    meta: PageMeta
