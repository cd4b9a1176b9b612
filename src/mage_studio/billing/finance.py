"""Finance operations: top-ups (enrolments) and withdrawals (write-offs).

A user creates an operation; an admin moves it through its statuses:

    created ─▶ pending ─▶ executed
       │          │
       └──────────┴─────▶ canceled

Executed and canceled are final. A write-off holds the amount of the user's balance
when created; executing captures the hold to the payouts account and canceling
releases it. Executing an enrolment credits the balance from the issuance account
(money that arrived from outside). Every status change is a compare-and-set on the
current status, so two admins acting at once cannot both succeed.
"""

from __future__ import annotations

from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger, wallets
from mage_studio.billing.accounts import ensure_user_accounts
from mage_studio.billing.errors import InvalidAmount
from mage_studio.billing.ledger import Posting
from mage_studio.billing.models import (
    AccountKind,
    FinanceOperation,
    FinanceOperationStatus,
    FinanceOperationType,
    LedgerAccount,
    LedgerHold,
)
from mage_studio.config import Settings
from mage_studio.core.audit import record_audit
from mage_studio.core.db import utcnow
from mage_studio.core.schemas import PageParams
from mage_studio.errors import InvalidTransition, NotFound, ValidationFailed
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

Status = FinanceOperationStatus
HOLD_REFERENCE = "finance_operation"
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.CREATED: frozenset({Status.PENDING, Status.EXECUTED, Status.CANCELED}),
    Status.PENDING: frozenset({Status.EXECUTED, Status.CANCELED}),
}


def hold_key(operation_id: int) -> str:
    return f"finance-operation:{operation_id}"


async def list_operations(
    session: AsyncSession, user: User, page: PageParams, type_: int | None = None
) -> tuple[list[FinanceOperation], int]:
    """Return a page of the caller's operations, newest first, and the total."""
    condition = FinanceOperation.user_id == user.id
    if type_ is not None:
        condition = condition & (FinanceOperation.type == type_)
    total = await session.scalar(
        select(func.count()).select_from(FinanceOperation).where(condition)
    )
    rows = await session.scalars(
        select(FinanceOperation)
        .where(condition)
        .order_by(FinanceOperation.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    return list(rows), int(total or 0)


async def get_operation(
    session: AsyncSession, user: User, operation_id: int
) -> FinanceOperation:
    """Return the caller's operation; anyone else's is 404."""
    operation = await session.get(FinanceOperation, operation_id)
    if operation is None or operation.user_id != user.id:
        raise NotFound("The finance operation was not found.")
    return operation


async def create_operation(
    session: AsyncSession,
    user: User,
    *,
    money: int,
    type_: int,
    settings: Settings,
    wallet_id: int | None = None,
    info: str | None = None,
    wallet_type_id: int | None = None,
) -> FinanceOperation:
    """Create a top-up or withdrawal request in status created.

    The wallet is the caller's `wallet_id`, or the one described by `info` and
    `wallet_type_id` (saved when new). `money` above `finance_max_amount` is 422. A
    withdrawal holds `money` of the balance and raises `InsufficientBalance` (402,
    code 1012) when the available balance is short.
    """
    ledger.ensure_amount(money, "money")
    if money > settings.finance_max_amount:
        raise InvalidAmount(
            "money", f"money must be at most {settings.finance_max_amount}."
        )
    operation_type = FinanceOperationType(type_)
    if wallet_id is not None:
        wallet = await wallets.get_wallet(session, user, wallet_id)
    elif info is None or wallet_type_id is None:
        raise ValidationFailed.field(
            "walletId", "Give walletId, or info and typeId for a new wallet."
        )
    else:
        wallet = await wallets.find_or_create_wallet(
            session, user, info=info, wallet_type_id=wallet_type_id
        )
    accounts = await ensure_user_accounts(session, user.id, settings.currency)

    operation = FinanceOperation(
        user_id=user.id,
        wallet=wallet,
        type=operation_type.value,
        status=Status.CREATED.value,
        money=money,
    )
    session.add(operation)
    await session.flush()
    if operation_type is FinanceOperationType.WRITE_OFF:
        result = await ledger.create_hold(
            session,
            key=hold_key(operation.id),
            account_id=accounts.balance.id,
            amount=money,
            reference_type=HOLD_REFERENCE,
            reference_id=operation.id,
        )
        operation.hold_id = result.hold.id
        await session.flush()
    log.info(
        "finance_operation_created",
        operation_id=operation.id,
        user_id=user.id,
        type=operation_type.value,
    )
    return operation


async def _compare_and_set(
    session: AsyncSession,
    operation: FinanceOperation,
    old: Status,
    new: Status,
    values: dict[str, Any],
) -> None:
    result = await session.execute(
        update(FinanceOperation)
        .where(FinanceOperation.id == operation.id, FinanceOperation.status == old)
        .values(status=new.value, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(operation)
    if cast(CursorResult[Any], result).rowcount != 1:
        raise InvalidTransition("The finance operation was changed by someone else.")


async def _execute(
    session: AsyncSession, operation: FinanceOperation, settings: Settings
) -> None:
    if operation.type == FinanceOperationType.WRITE_OFF:
        hold = await session.get(LedgerHold, operation.hold_id)
        assert hold is not None
        account = await session.get_one(
            LedgerAccount, hold.account_id, populate_existing=True
        )
        payouts = await ledger.system_account(
            session, AccountKind.PAYOUTS, account.unit
        )
        await ledger.capture_hold(
            session,
            hold,
            amount=hold.amount,
            destination_id=payouts.id,
            kind="withdrawal",
            memo=f"Withdrawal {operation.id}",
        )
        return
    accounts = await ensure_user_accounts(session, operation.user_id, settings.currency)
    issuance = await ledger.system_account(
        session, AccountKind.ISSUANCE, accounts.balance.unit
    )
    await ledger.post_transfer(
        session,
        transfer_id=f"{hold_key(operation.id)}:execute",
        kind="deposit",
        postings=[
            Posting(issuance.id, -operation.money),
            Posting(accounts.balance.id, operation.money),
        ],
        memo=f"Top-up {operation.id}",
    )


async def _cancel(session: AsyncSession, operation: FinanceOperation) -> None:
    if operation.hold_id is None:
        return
    hold = await session.get(LedgerHold, operation.hold_id)
    assert hold is not None
    await ledger.release_hold(session, hold)


async def _transition(
    session: AsyncSession,
    operation: FinanceOperation,
    new: Status,
    settings: Settings,
    cancel_info: str | None = None,
) -> Status:
    old = Status(operation.status)
    if new not in TRANSITIONS.get(old, frozenset()):
        raise InvalidTransition(
            f"A finance operation cannot move from {old.name.lower()} to "
            f"{new.name.lower()}."
        )
    values: dict[str, Any] = {}
    if new is Status.EXECUTED:
        values["executed_at"] = utcnow()
    elif new is Status.CANCELED:
        values.update(canceled_at=utcnow(), canceled_info=cancel_info)
    await _compare_and_set(session, operation, old, new, values)

    if new is Status.EXECUTED:
        await _execute(session, operation, settings)
    elif new is Status.CANCELED:
        await _cancel(session, operation)
    log.info(
        "finance_operation_status_changed",
        operation_id=operation.id,
        old_status=old.value,
        new_status=new.value,
    )
    return old


async def cancel_operation(
    session: AsyncSession,
    user: User,
    operation_id: int,
    *,
    cancel_info: str | None,
    settings: Settings,
) -> FinanceOperation:
    """Cancel the caller's own operation that is not executed yet (releasing the
    hold of a withdrawal); a final one is 409 (code 1013)."""
    operation = await get_operation(session, user, operation_id)
    await _transition(session, operation, Status.CANCELED, settings, cancel_info)
    return operation


async def change_finance_operation_status(
    session: AsyncSession,
    admin: User,
    operation_id: int,
    status: int,
    settings: Settings,
) -> FinanceOperation:
    """Move any user's operation to `status` as an admin and audit the change.

    Executing an enrolment credits the user's balance; executing a write-off pays out
    its hold; canceling releases it. Illegal or lost-race changes are 409 (1013).
    """
    if status not in set(Status):
        raise ValidationFailed.field("status", "The status must be 1, 2, 3 or 4.")
    operation = await session.get(FinanceOperation, operation_id)
    if operation is None:
        raise NotFound("The finance operation was not found.")
    old = await _transition(session, operation, Status(status), settings)
    await record_audit(
        session,
        admin,
        "finance_operation.status_changed",
        "finance_operation",
        operation.id,
        {"status": old.value},
        {"status": operation.status},
    )
    return operation
