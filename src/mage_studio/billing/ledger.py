"""The double-entry ledger: accounts, transfers, holds and the consistency check.

Rules every function here keeps:
- Amounts are Python ints (never bool or float) within the signed 64-bit range.
- A transfer's id is its idempotency key: posting the same id again returns the first
  transfer and changes nothing; the same id with different entries is a conflict.
- The entries of a transfer sum to zero per unit.
- The cached `posted` and `held` of every touched account change in the same
  transaction as the entries and holds, under row locks taken in account-id order
  (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite transactions are `BEGIN IMMEDIATE`,
  which already serialises writers). Locks on domain rows (an order, a finance
  operation) and on holds are taken before account locks.
- A user account's available amount (`posted - held`) never goes below zero: the
  service raises 402 first, and a database CHECK backs it up.
- Transfers and entries are never updated or deleted; corrections are new transfers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.dialect import insert_ignoring_duplicates
from mage_studio.billing.errors import (
    BalanceOverflow,
    HoldConflict,
    InsufficientBalance,
    InsufficientCredits,
    InvalidAmount,
    TransferConflict,
)
from mage_studio.billing.models import (
    CREDITS_UNIT,
    AccountKind,
    HoldStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerHold,
    LedgerTransfer,
)
from mage_studio.core.db import utcnow
from mage_studio.errors import PaymentRequired

log = structlog.get_logger(__name__)

MAX_AMOUNT = 2**63 - 1
MAX_TRANSFER_ID_LENGTH = 128


class LedgerInvariantError(RuntimeError):
    """A caller asked for something the ledger's rules forbid (a programming error)."""


@dataclass(frozen=True)
class Posting:
    """A signed amount for one account: positive adds to it, negative takes away."""

    account_id: int
    amount: int


@dataclass(frozen=True)
class TransferResult:
    transfer: LedgerTransfer
    created: bool


@dataclass(frozen=True)
class HoldResult:
    hold: LedgerHold
    created: bool


def ensure_amount(
    value: Any, field: str = "amount", *, allow_zero: bool = False
) -> int:
    """Return `value` if it is an int in 1..2**63-1 (0 allowed on request), else 422."""
    if type(value) is not int:
        raise InvalidAmount(field, f"{field} must be an integer.")
    low = 0 if allow_zero else 1
    if value < low:
        bound = "at least 0" if allow_zero else "greater than 0"
        raise InvalidAmount(field, f"{field} must be {bound}.")
    if value > MAX_AMOUNT:
        raise InvalidAmount(field, f"{field} must be at most {MAX_AMOUNT}.")
    return value


def checked_product(left: int, right: int, field: str) -> int:
    """Multiply two amounts, rejecting a result beyond the signed 64-bit range."""
    result = left * right
    if result > MAX_AMOUNT:
        raise InvalidAmount(field, f"The total exceeds {MAX_AMOUNT}.")
    return result


def insufficient_funds(account: LedgerAccount) -> PaymentRequired:
    if account.unit == CREDITS_UNIT:
        return InsufficientCredits()
    return InsufficientBalance()


# --- accounts -------------------------------------------------------------------


def user_account_key(user_id: int, kind: AccountKind) -> str:
    return f"user:{user_id}:{kind.value}"


def system_account_key(kind: AccountKind, unit: str) -> str:
    return f"system:{kind.value}:{unit}"


async def _account_by_key(session: AsyncSession, key: str) -> LedgerAccount | None:
    account: LedgerAccount | None = await session.scalar(
        select(LedgerAccount)
        .where(LedgerAccount.key == key)
        .execution_options(populate_existing=True)
    )
    return account


async def _get_or_create_account(
    session: AsyncSession, *, key: str, user_id: int | None, kind: str, unit: str
) -> LedgerAccount:
    account = await _account_by_key(session, key)
    if account is not None:
        return account
    await insert_ignoring_duplicates(
        session,
        LedgerAccount.__table__,  # type: ignore[arg-type]
        {
            "key": key,
            "user_id": user_id,
            "kind": kind,
            "unit": unit,
            "posted": 0,
            "held": 0,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
    )
    account = await _account_by_key(session, key)
    if account is None:
        raise LedgerInvariantError(f"ledger account {key} could not be created")
    return account


async def system_account(
    session: AsyncSession, kind: AccountKind, unit: str
) -> LedgerAccount:
    """Return the platform's account of `kind` in `unit`, creating it when missing."""
    return await _get_or_create_account(
        session,
        key=system_account_key(kind, unit),
        user_id=None,
        kind=kind.value,
        unit=unit,
    )


async def user_account(
    session: AsyncSession, user_id: int, kind: AccountKind, unit: str
) -> LedgerAccount:
    """Return a user's `balance` or `credits` account, creating it when missing.

    An existing account keeps the unit it was created with.
    """
    # NOTE: changing MAGE_CURRENCY after balances exist is not supported: transfers
    # between accounts of the old and the new currency fail as unbalanced.
    return await _get_or_create_account(
        session,
        key=user_account_key(user_id, kind),
        user_id=user_id,
        kind=kind.value,
        unit=unit,
    )


async def find_user_account(
    session: AsyncSession, user_id: int, kind: AccountKind
) -> LedgerAccount | None:
    return await _account_by_key(session, user_account_key(user_id, kind))


async def lock_accounts(
    session: AsyncSession, account_ids: Iterable[int]
) -> dict[int, LedgerAccount]:
    """Lock the accounts in id order and return them with fresh values."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = await session.scalars(
        select(LedgerAccount)
        .where(LedgerAccount.id.in_(ids))
        .order_by(LedgerAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    accounts = {account.id: account for account in rows}
    missing = set(ids) - set(accounts)
    if missing:
        raise LedgerInvariantError(f"unknown ledger accounts {sorted(missing)}")
    return accounts


def _apply_changes(
    accounts: Mapping[int, LedgerAccount],
    posted: Mapping[int, int],
    held: Mapping[int, int],
) -> None:
    """Check every new cached value first, then write them all."""
    new_values: dict[int, tuple[int, int]] = {}
    for account_id, account in accounts.items():
        new_posted = account.posted + posted.get(account_id, 0)
        new_held = account.held + held.get(account_id, 0)
        if abs(new_posted) > MAX_AMOUNT or new_held > MAX_AMOUNT:
            raise BalanceOverflow()
        if new_held < 0:
            raise LedgerInvariantError(f"account {account_id} would hold below zero")
        if not account.is_system and new_posted - new_held < 0:
            raise insufficient_funds(account)
        new_values[account_id] = (new_posted, new_held)
    for account_id, (new_posted, new_held) in new_values.items():
        accounts[account_id].posted = new_posted
        accounts[account_id].held = new_held


async def change_held(session: AsyncSession, account_id: int, delta: int) -> None:
    """Add `delta` to an account's held amount under its row lock."""
    accounts = await lock_accounts(session, [account_id])
    _apply_changes(accounts, {}, {account_id: delta})
    await session.flush()


# --- transfers ------------------------------------------------------------------


def _merge_postings(postings: Sequence[Posting]) -> dict[int, int]:
    merged: dict[int, int] = defaultdict(int)
    for posting in postings:
        if type(posting.amount) is not int or posting.amount == 0:
            raise LedgerInvariantError("every posting needs a non-zero int amount")
        if abs(posting.amount) > MAX_AMOUNT:
            raise InvalidAmount("amount", f"The amount must be at most {MAX_AMOUNT}.")
        merged[posting.account_id] += posting.amount
    return {account_id: amount for account_id, amount in merged.items() if amount}


def _check_balanced(
    amounts: Mapping[int, int], accounts: Mapping[int, LedgerAccount]
) -> None:
    totals: dict[str, int] = defaultdict(int)
    for account_id, amount in amounts.items():
        totals[accounts[account_id].unit] += amount
    unbalanced = {unit: total for unit, total in totals.items() if total}
    if unbalanced or not amounts:
        raise LedgerInvariantError(f"transfer does not sum to zero: {unbalanced}")


def _replay(
    existing: LedgerTransfer,
    kind: str,
    amounts: Mapping[int, int],
    held: Mapping[int, int],
) -> TransferResult:
    if held:
        raise LedgerInvariantError(f"transfer {existing.id} was already posted")
    recorded = {entry.account_id: entry.amount for entry in existing.entries}
    if existing.kind != kind or recorded != dict(amounts):
        raise TransferConflict()
    return TransferResult(existing, created=False)


async def post_transfer(
    session: AsyncSession,
    *,
    transfer_id: str,
    kind: str,
    postings: Sequence[Posting],
    memo: str | None = None,
    held_changes: Mapping[int, int] | None = None,
) -> TransferResult:
    """Post a balanced transfer once, updating the cached balances.

    `held_changes` adjusts held amounts in the same step (a capture frees the hold
    while posting). Raises 402 (code 1011 for credits, 1012 for money) when a user
    account cannot cover its side, and `TransferConflict` when `transfer_id` was used
    for different entries. Replaying a transfer with `held_changes` is an error,
    because the held amounts would then drift from the holds.
    """
    if not transfer_id or len(transfer_id) > MAX_TRANSFER_ID_LENGTH:
        raise LedgerInvariantError("transfer ids are 1 to 128 characters long")
    amounts = _merge_postings(postings)
    held = dict(held_changes or {})

    existing = await session.get(LedgerTransfer, transfer_id)
    if existing is not None:
        return _replay(existing, kind, amounts, held)
    accounts = await lock_accounts(session, [*amounts, *held])
    # Another transaction may have posted it while this one waited for the locks.
    existing = await session.get(LedgerTransfer, transfer_id)
    if existing is not None:
        return _replay(existing, kind, amounts, held)

    _check_balanced(amounts, accounts)
    _apply_changes(accounts, amounts, held)
    transfer = LedgerTransfer(
        id=transfer_id,
        kind=kind,
        memo=memo[:255] if memo else None,
        entries=[
            LedgerEntry(account_id=account_id, amount=amount)
            for account_id, amount in sorted(amounts.items())
        ],
    )
    session.add(transfer)
    await session.flush()
    log.info("ledger_transfer_posted", transfer_id=transfer_id, kind=kind)
    return TransferResult(transfer, created=True)


# --- holds ----------------------------------------------------------------------


async def hold_by_key(session: AsyncSession, key: str) -> LedgerHold | None:
    hold: LedgerHold | None = await session.scalar(
        select(LedgerHold)
        .where(LedgerHold.key == key)
        .execution_options(populate_existing=True)
    )
    return hold


def _existing_hold(hold: LedgerHold, account_id: int, amount: int) -> HoldResult:
    if hold.account_id != account_id or hold.amount != amount:
        raise HoldConflict()
    return HoldResult(hold, created=False)


async def create_hold(
    session: AsyncSession,
    *,
    key: str,
    account_id: int,
    amount: int,
    reference_type: str,
    reference_id: int,
) -> HoldResult:
    """Set `amount` of a user account aside under the idempotency key `key`.

    Raises 402 when the available amount is short. The same key again returns the
    first hold (in whatever state it is now) or raises `HoldConflict` when the
    account or amount differ. A zero amount records a hold that reserves nothing, so
    callers can settle every hold the same way.
    """
    ensure_amount(amount, allow_zero=True)
    existing = await hold_by_key(session, key)
    if existing is not None:
        return _existing_hold(existing, account_id, amount)
    accounts = await lock_accounts(session, [account_id])
    existing = await hold_by_key(session, key)
    if existing is not None:
        return _existing_hold(existing, account_id, amount)

    _apply_changes(accounts, {}, {account_id: amount})
    hold = LedgerHold(
        key=key,
        account_id=account_id,
        amount=amount,
        captured=0,
        status=HoldStatus.HELD.value,
        reference_type=reference_type,
        reference_id=reference_id,
    )
    session.add(hold)
    await session.flush()
    log.info("ledger_hold_created", hold_key=key, amount=amount)
    return HoldResult(hold, created=True)


async def _settle(
    session: AsyncSession, hold: LedgerHold, status: HoldStatus, captured: int
) -> bool:
    """Move a hold out of `held` by compare-and-set; return whether this call won."""
    result = await session.execute(
        update(LedgerHold)
        .where(LedgerHold.id == hold.id, LedgerHold.status == HoldStatus.HELD.value)
        .values(status=status.value, captured=captured, settled_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    won = cast(CursorResult[Any], result).rowcount == 1
    await session.refresh(hold)
    return won


async def capture_hold(
    session: AsyncSession,
    hold: LedgerHold,
    *,
    amount: int,
    destination_id: int,
    kind: str,
    memo: str | None = None,
) -> bool:
    """Capture `amount` (at most the hold) to `destination_id` and release the rest.

    Returns False, changing nothing, when the hold was already captured or released.
    """
    ensure_amount(amount, allow_zero=True)
    if amount > hold.amount:
        raise LedgerInvariantError(f"capture of {amount} exceeds hold {hold.key}")
    if not await _settle(session, hold, HoldStatus.CAPTURED, amount):
        return False

    if amount == 0:
        await change_held(session, hold.account_id, -hold.amount)
    else:
        result = await post_transfer(
            session,
            transfer_id=f"{hold.key}:capture",
            kind=kind,
            postings=[
                Posting(hold.account_id, -amount),
                Posting(destination_id, amount),
            ],
            memo=memo,
            held_changes={hold.account_id: -hold.amount},
        )
        hold.transfer_id = result.transfer.id
        await session.flush()
    log.info("ledger_hold_captured", hold_key=hold.key, captured=amount)
    return True


async def release_hold(session: AsyncSession, hold: LedgerHold) -> bool:
    """Release a hold in full. Returns False when it was already settled."""
    if not await _settle(session, hold, HoldStatus.RELEASED, 0):
        return False
    await change_held(session, hold.account_id, -hold.amount)
    log.info("ledger_hold_released", hold_key=hold.key, released=hold.amount)
    return True


# --- consistency check ----------------------------------------------------------


@dataclass(frozen=True)
class UnbalancedTransfer:
    transfer_id: str
    unit: str | None
    total: int


@dataclass(frozen=True)
class AccountMismatch:
    account_id: int
    key: str
    posted: int
    entries_total: int
    held: int
    open_holds_total: int


@dataclass(frozen=True)
class LedgerCheck:
    """Findings of `check_ledger`; `ok` is true when there are none."""

    unbalanced_transfers: list[UnbalancedTransfer]
    mismatched_accounts: list[AccountMismatch]

    @property
    def ok(self) -> bool:
        return not self.unbalanced_transfers and not self.mismatched_accounts

    @property
    def account_ids(self) -> list[int]:
        return [mismatch.account_id for mismatch in self.mismatched_accounts]


async def _unbalanced_transfers(session: AsyncSession) -> list[UnbalancedTransfer]:
    total = func.sum(LedgerEntry.amount)
    rows = await session.execute(
        select(LedgerEntry.transfer_id, LedgerAccount.unit, total)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .group_by(LedgerEntry.transfer_id, LedgerAccount.unit)
        .having(total != 0)
        .order_by(LedgerEntry.transfer_id)
    )
    found = [UnbalancedTransfer(str(row[0]), str(row[1]), int(row[2])) for row in rows]
    empty = await session.scalars(
        select(LedgerTransfer.id)
        .where(~LedgerTransfer.entries.any())
        .order_by(LedgerTransfer.id)
    )
    return found + [UnbalancedTransfer(transfer_id, None, 0) for transfer_id in empty]


async def _mismatched_accounts(session: AsyncSession) -> list[AccountMismatch]:
    entries = (
        select(
            LedgerEntry.account_id.label("account_id"),
            func.sum(LedgerEntry.amount).label("total"),
        )
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    holds = (
        select(
            LedgerHold.account_id.label("account_id"),
            func.sum(LedgerHold.amount).label("total"),
        )
        .where(LedgerHold.status == HoldStatus.HELD.value)
        .group_by(LedgerHold.account_id)
        .subquery()
    )
    entries_total = func.coalesce(entries.c.total, 0)
    holds_total = func.coalesce(holds.c.total, 0)
    rows = await session.execute(
        select(LedgerAccount, entries_total, holds_total)
        .outerjoin(entries, entries.c.account_id == LedgerAccount.id)
        .outerjoin(holds, holds.c.account_id == LedgerAccount.id)
        .where(
            (LedgerAccount.posted != entries_total)
            | (LedgerAccount.held != holds_total)
        )
        .order_by(LedgerAccount.id)
        .execution_options(populate_existing=True)
    )
    return [
        AccountMismatch(
            account_id=account.id,
            key=account.key,
            posted=account.posted,
            entries_total=int(entries_sum),
            held=account.held,
            open_holds_total=int(holds_sum),
        )
        for account, entries_sum, holds_sum in rows
    ]


async def check_ledger(session: AsyncSession) -> LedgerCheck:
    """Verify that transfers sum to zero per unit and that every account's cached
    `posted` equals the sum of its entries and `held` the sum of its open holds."""
    return LedgerCheck(
        unbalanced_transfers=await _unbalanced_transfers(session),
        mismatched_accounts=await _mismatched_accounts(session),
    )
