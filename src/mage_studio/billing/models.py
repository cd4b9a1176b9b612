"""Billing tables: the double-entry ledger, wallets, finance operations and the shop.

Amounts are integers: credits, or minor units of the configured currency. Transfers and
their entries are append-only (see `forbid_changes`); a correction is a new transfer.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

# Imported so the audit table is part of the metadata wherever billing is.
from mage_studio.core.audit import AuditEntry, forbid_changes
from mage_studio.core.db import Base, TimestampMixin, UtcDateTime, utcnow
from mage_studio.users.models import User

__all__ = ["AuditEntry"]

CREDITS_UNIT = "credits"


class AccountKind(StrEnum):
    """Kind of a ledger account. The first two belong to users. The others belong to
    the platform and exist once per unit."""

    BALANCE = "balance"
    CREDITS = "credits"
    # Counterpart of money deposited from outside and of credits granted: negative.
    ISSUANCE = "issuance"
    # Money from platform sales and credits spent on renders.
    REVENUE = "revenue"
    # Money paid for a seller's order until the customer confirms it.
    ESCROW = "escrow"
    # Money paid out to users' wallets by executed withdrawals.
    PAYOUTS = "payouts"


class HoldStatus(StrEnum):
    HELD = "held"
    CAPTURED = "captured"
    RELEASED = "released"


class FinanceOperationType(IntEnum):
    ENROLMENT = 1
    WRITE_OFF = 2


class FinanceOperationStatus(IntEnum):
    CREATED = 1
    EXECUTED = 2
    PENDING = 3
    CANCELED = 4


class OrderStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    PROCESSING = "processing"
    FINISHED = "finished"
    CANCELED = "canceled"
    REFUNDED = "refunded"


class LedgerAccount(TimestampMixin, Base):
    """An account with cached sums of its entries (`posted`) and open holds (`held`).

    A CHECK constraint keeps `posted - held` of user accounts at zero or above.
    System accounts (no user) may go below zero: issuance is the negative of
    everything granted.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint(
            "user_id IS NULL OR posted - held >= 0", name="available_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "user:<id>:<kind>" or "system:<kind>:<unit>"; makes creation idempotent.
    key: Mapped[str] = mapped_column(String(96), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), index=True, default=None
    )
    kind: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(16))
    posted: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def available(self) -> int:
        return self.posted - self.held

    @property
    def is_system(self) -> bool:
        return self.user_id is None


class LedgerTransfer(Base):
    """A balanced set of entries. Its id is the caller's idempotency key."""

    __tablename__ = "ledger_transfers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    memo: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="transfer", lazy="selectin", order_by="LedgerEntry.id"
    )


class LedgerEntry(Base):
    """A signed amount on one account; the entries of a transfer sum to zero per
    unit."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[str] = mapped_column(
        ForeignKey("ledger_transfers.id"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    transfer: Mapped[LedgerTransfer] = relationship(back_populates="entries")


forbid_changes(LedgerTransfer)
forbid_changes(LedgerEntry)


class LedgerHold(Base):
    """Funds of a user account set aside until captured (in part) or released.

    The status leaves `held` exactly once, by a compare-and-set update, so a capture
    and a release of the same hold can never both take effect.
    """

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("captured >= 0 AND captured <= amount", name="captured_range"),
        CheckConstraint(
            "status IN ('held', 'captured', 'released')", name="status_known"
        ),
        Index("ix_ledger_holds_reference", "reference_type", "reference_id"),
        Index("ix_ledger_holds_account_id_status", "account_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    captured: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=HoldStatus.HELD.value)
    reference_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[str | None] = mapped_column(
        ForeignKey("ledger_transfers.id"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class WalletType(Base):
    """A payment rail: PayPal, Stripe, bank card, personal balance."""

    __tablename__ = "wallet_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    symbol: Mapped[str] = mapped_column(String(32))


class UserWallet(Base):
    """A user's saved payment or payout details on one rail; deleting hides it."""

    __tablename__ = "user_wallets"
    __table_args__ = (
        # One saved wallet per user, rail and details. Deleted wallets stay for the
        # finance operations that refer to them, so only visible ones are unique.
        Index(
            "uq_user_wallets_user_id_wallet_type_id_info",
            "user_id",
            "wallet_type_id",
            "info",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    wallet_type_id: Mapped[int] = mapped_column(ForeignKey("wallet_types.id"))
    info: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    wallet_type: Mapped[WalletType] = relationship(lazy="selectin")


class FinanceOperation(TimestampMixin, Base):
    """A top-up (enrolment) or withdrawal (write-off) that an admin executes."""

    __tablename__ = "finance_operations"
    __table_args__ = (
        CheckConstraint("money > 0", name="money_positive"),
        CheckConstraint("type IN (1, 2)", name="type_known"),
        CheckConstraint("status IN (1, 2, 3, 4)", name="status_known"),
        Index("ix_finance_operations_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    wallet_id: Mapped[int] = mapped_column(ForeignKey("user_wallets.id"))
    type: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[int] = mapped_column(
        SmallInteger, default=FinanceOperationStatus.CREATED.value
    )
    money: Mapped[int] = mapped_column(BigInteger)
    hold_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_holds.id"), default=None
    )
    executed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    canceled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    canceled_info: Mapped[str | None] = mapped_column(String(1000), default=None)

    wallet: Mapped[UserWallet] = relationship(lazy="selectin")


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Product(TimestampMixin, Base):
    """Something to buy. Platform products (no seller) may grant credits and a
    priority tier; a seller's product pays the seller."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("credits >= 0", name="credits_not_negative"),
        CheckConstraint("availability >= 0", name="availability_not_negative"),
        Index("ix_products_category_id", "category_id"),
        Index("ix_products_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    # None for platform products (credit packs).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    price: Mapped[int] = mapped_column(BigInteger)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
    priority_tier: Mapped[int | None] = mapped_column(Integer, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # None means unlimited.
    availability: Mapped[int | None] = mapped_column(Integer, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    user: Mapped[User | None] = relationship(lazy="selectin")

    @property
    def is_platform(self) -> bool:
        return self.user_id is None


class Order(TimestampMixin, Base):
    """A purchase; price, credits and tier are copied from the product when placed."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "status IN ('unpaid', 'paid', 'processing', 'finished', 'canceled', "
            "'refunded')",
            name="status_known",
        ),
        Index("ix_orders_customer_id_id", "customer_id", "id"),
        Index("ix_orders_seller_id_id", "seller_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # None when the platform sold the product.
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    product_name: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    unit_credits: Mapped[int] = mapped_column(BigInteger)
    priority_tier: Mapped[int | None] = mapped_column(Integer, default=None)
    total_price: Mapped[int] = mapped_column(BigInteger)
    total_credits: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    customer: Mapped[User] = relationship(foreign_keys=[customer_id], lazy="selectin")
    seller: Mapped[User | None] = relationship(
        foreign_keys=[seller_id], lazy="selectin"
    )


class UserRating(Base):
    """A customer's rating of the seller of one finished order."""

    __tablename__ = "user_ratings"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="selectin")
