"""Users' ledger accounts: opening them, reading balances, admin corrections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger, repository
from mage_studio.billing.ledger import Posting
from mage_studio.billing.models import (
    CREDITS_UNIT,
    AccountKind,
    LedgerAccount,
    LedgerTransfer,
)
from mage_studio.config import Settings
from mage_studio.core.audit import record_audit
from mage_studio.core.schemas import PageParams
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

SIGNUP_GRANT = "signup_grant"
CORRECTION = "correction"


@dataclass(frozen=True)
class UserAccounts:
    balance: LedgerAccount
    credits: LedgerAccount


def signup_transfer_id(user_id: int) -> str:
    return f"signup-credits:{user_id}"


async def ensure_user_accounts(
    session: AsyncSession, user_id: int, currency: str
) -> UserAccounts:
    """Return the user's `balance` and `credits` accounts, creating missing ones."""
    balance = await ledger.user_account(session, user_id, AccountKind.BALANCE, currency)
    credits = await ledger.user_account(
        session, user_id, AccountKind.CREDITS, CREDITS_UNIT
    )
    return UserAccounts(balance=balance, credits=credits)


async def open_user_accounts(
    session: AsyncSession, user_id: int, settings: Settings
) -> UserAccounts:
    """Create the user's ledger accounts and grant the sign-up credits, once.

    Safe to call on every request. The accounts are created only when missing, and
    the grant is a transfer with the fixed id `signup-credits:<user_id>`, so it is
    posted at most once even if `credits_at_signup` changes later.
    """
    accounts = await ensure_user_accounts(session, user_id, settings.currency)
    grant = settings.credits_at_signup
    transfer_id = signup_transfer_id(user_id)
    if grant > 0 and await session.get(LedgerTransfer, transfer_id) is None:
        issuance = await ledger.system_account(
            session, AccountKind.ISSUANCE, CREDITS_UNIT
        )
        await ledger.post_transfer(
            session,
            transfer_id=transfer_id,
            kind=SIGNUP_GRANT,
            postings=[
                Posting(issuance.id, -grant),
                Posting(accounts.credits.id, grant),
            ],
            memo="Sign-up credits",
        )
    return accounts


async def users_balances(
    session: AsyncSession, user_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """Return `{user_id: (available balance, available credits)}`; 0 without
    accounts."""
    result = dict.fromkeys(user_ids, (0, 0))
    if not user_ids:
        return result
    rows = await session.scalars(
        select(LedgerAccount)
        .where(
            LedgerAccount.user_id.in_(list(user_ids)),
            LedgerAccount.kind.in_([AccountKind.BALANCE, AccountKind.CREDITS]),
        )
        .execution_options(populate_existing=True)
    )
    for account in rows:
        assert account.user_id is not None
        balance, credits = result[account.user_id]
        if account.kind == AccountKind.BALANCE:
            balance = account.available
        else:
            credits = account.available
        result[account.user_id] = (balance, credits)
    return result


async def user_balances(session: AsyncSession, user_id: int) -> tuple[int, int]:
    """Return the user's available (balance, credits): posted minus held."""
    return (await users_balances(session, [user_id]))[user_id]


async def adjust_user_account(
    session: AsyncSession,
    *,
    actor: User,
    user_id: int,
    kind: AccountKind,
    amount: int,
    reason: str,
    transfer_id: str,
    settings: Settings,
) -> LedgerTransfer:
    """Post an admin correction: a positive `amount` adds to the user's account, a
    negative one takes from it (402 when the available amount is short).

    The counterpart is the issuance account of the unit. `transfer_id` makes the
    correction idempotent; an audit entry records who made it and why.
    """
    ledger.ensure_amount(abs(amount), "amount")
    accounts = await ensure_user_accounts(session, user_id, settings.currency)
    account = accounts.credits if kind == AccountKind.CREDITS else accounts.balance
    issuance = await ledger.system_account(session, AccountKind.ISSUANCE, account.unit)
    result = await ledger.post_transfer(
        session,
        transfer_id=transfer_id,
        kind=CORRECTION,
        postings=[Posting(issuance.id, -amount), Posting(account.id, amount)],
        memo=reason,
    )
    if result.created:
        await record_audit(
            session,
            actor,
            "ledger.correction",
            "ledger_account",
            account.id,
            None,
            {"amount": amount, "unit": account.unit, "reason": reason},
        )
    return result.transfer


@dataclass(frozen=True)
class Statement:
    """A user's two accounts and one page of their entries."""

    accounts: UserAccounts
    entries: list[repository.EntryRow]
    total: int


async def statement(
    session: AsyncSession, user_id: int, settings: Settings, page: PageParams
) -> Statement:
    accounts = await open_user_accounts(session, user_id, settings)
    entries, total = await repository.account_entries(
        session, [accounts.balance.id, accounts.credits.id], page
    )
    return Statement(accounts=accounts, entries=entries, total=total)
