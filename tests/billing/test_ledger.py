"""The ledger engine: transfers, idempotency, holds, constraints and the check."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger
from mage_studio.billing.accounts import ensure_user_accounts
from mage_studio.billing.errors import (
    HoldConflict,
    InsufficientBalance,
    InsufficientCredits,
    InvalidAmount,
    TransferConflict,
)
from mage_studio.billing.ledger import LedgerInvariantError, Posting
from mage_studio.billing.models import (
    CREDITS_UNIT,
    AccountKind,
    HoldStatus,
    LedgerEntry,
    LedgerTransfer,
)
from mage_studio.core.audit import ImmutableRecordError
from tests.billing.factories import CURRENCY, fund
from tests.factories import create_user


async def _issuance(session: AsyncSession) -> ledger.LedgerAccount:
    return await ledger.system_account(session, AccountKind.ISSUANCE, CREDITS_UNIT)


async def test_transfer_updates_cached_balances(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, credits=300)
    await session.commit()

    issuance = await _issuance(session)
    assert accounts.credits.posted == 300
    assert accounts.credits.available == 300
    assert issuance.posted == -300
    assert (await ledger.check_ledger(session)).ok


async def test_same_transfer_id_twice_posts_once(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await ensure_user_accounts(session, user.id, CURRENCY)
    issuance = await _issuance(session)
    postings = [Posting(issuance.id, -50), Posting(accounts.credits.id, 50)]

    first = await ledger.post_transfer(
        session, transfer_id="grant:once", kind="grant", postings=postings
    )
    second = await ledger.post_transfer(
        session, transfer_id="grant:once", kind="grant", postings=postings
    )
    await session.commit()

    assert first.created is True
    assert second.created is False
    assert second.transfer.id == first.transfer.id
    assert accounts.credits.posted == 50
    transfers = await session.scalar(
        select(func.count())
        .select_from(LedgerTransfer)
        .where(LedgerTransfer.id == "grant:once")
    )
    assert transfers == 1


async def test_reused_transfer_id_with_other_entries_conflicts(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    accounts = await ensure_user_accounts(session, user.id, CURRENCY)
    issuance = await _issuance(session)
    await ledger.post_transfer(
        session,
        transfer_id="grant:reused",
        kind="grant",
        postings=[Posting(issuance.id, -50), Posting(accounts.credits.id, 50)],
    )

    with pytest.raises(TransferConflict):
        await ledger.post_transfer(
            session,
            transfer_id="grant:reused",
            kind="grant",
            postings=[Posting(issuance.id, -60), Posting(accounts.credits.id, 60)],
        )


async def test_unbalanced_transfer_is_rejected(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await ensure_user_accounts(session, user.id, CURRENCY)
    issuance = await _issuance(session)

    with pytest.raises(LedgerInvariantError):
        await ledger.post_transfer(
            session,
            transfer_id="grant:unbalanced",
            kind="grant",
            postings=[Posting(issuance.id, -50), Posting(accounts.credits.id, 40)],
        )


async def test_transfer_across_units_must_balance_per_unit(
    session: AsyncSession,
) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, money=100)
    credit_issuance = await _issuance(session)

    with pytest.raises(LedgerInvariantError):
        await ledger.post_transfer(
            session,
            transfer_id="swap:money-for-credits",
            kind="swap",
            postings=[
                Posting(accounts.balance.id, -100),
                Posting(credit_issuance.id, 100),
            ],
        )


@pytest.mark.parametrize(
    ("kind", "error", "code"),
    [
        (AccountKind.CREDITS, InsufficientCredits, 1011),
        (AccountKind.BALANCE, InsufficientBalance, 1012),
    ],
)
async def test_overdraw_raises_payment_required(
    session: AsyncSession, kind: AccountKind, error: type[Exception], code: int
) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, credits=10, money=10)
    account = accounts.credits if kind is AccountKind.CREDITS else accounts.balance
    revenue = await ledger.system_account(session, AccountKind.REVENUE, account.unit)

    with pytest.raises(error) as raised:
        await ledger.post_transfer(
            session,
            transfer_id=f"spend:{kind}",
            kind="spend",
            postings=[Posting(account.id, -11), Posting(revenue.id, 11)],
        )

    assert getattr(raised.value, "code", None) == code
    assert getattr(raised.value, "status_code", None) == 402
    assert account.posted == 10


async def test_system_accounts_may_go_negative(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=5)
    issuance = await _issuance(session)
    assert issuance.posted == -5


@pytest.mark.parametrize("amount", [0, -1, 1.5, "3", True, 2**63])
def test_ensure_amount_rejects_non_positive_and_non_int(amount: object) -> None:
    with pytest.raises(InvalidAmount):
        ledger.ensure_amount(amount)


def test_ensure_amount_accepts_int_range() -> None:
    assert ledger.ensure_amount(1) == 1
    assert ledger.ensure_amount(2**63 - 1) == 2**63 - 1
    assert ledger.ensure_amount(0, allow_zero=True) == 0


async def test_transfers_and_entries_cannot_be_changed(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=5)
    await session.commit()
    transfer = await session.scalar(select(LedgerTransfer))
    assert transfer is not None

    transfer.memo = "rewritten"
    with pytest.raises(ImmutableRecordError):
        await session.flush()
    await session.rollback()

    entry = await session.scalar(select(LedgerEntry))
    assert entry is not None
    await session.delete(entry)
    with pytest.raises(ImmutableRecordError):
        await session.flush()


async def test_database_rejects_negative_available(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, credits=5)
    await session.commit()

    with pytest.raises(IntegrityError):
        await session.execute(
            text("UPDATE ledger_accounts SET held = 6 WHERE id = :id"),
            {"id": accounts.credits.id},
        )


async def test_hold_reserves_and_release_frees(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, credits=100)

    result = await ledger.create_hold(
        session,
        key="test:hold",
        account_id=accounts.credits.id,
        amount=70,
        reference_type="test",
        reference_id=1,
    )
    assert accounts.credits.held == 70
    assert accounts.credits.available == 30
    with pytest.raises(InsufficientCredits):
        await ledger.create_hold(
            session,
            key="test:hold-2",
            account_id=accounts.credits.id,
            amount=31,
            reference_type="test",
            reference_id=2,
        )

    assert await ledger.release_hold(session, result.hold) is True
    assert await ledger.release_hold(session, result.hold) is False
    assert result.hold.status == HoldStatus.RELEASED
    assert accounts.credits.held == 0
    assert accounts.credits.posted == 100


async def test_hold_key_is_idempotent(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, credits=100)
    arguments = {
        "key": "test:same",
        "account_id": accounts.credits.id,
        "reference_type": "test",
        "reference_id": 1,
    }

    first = await ledger.create_hold(session, amount=40, **arguments)  # type: ignore[arg-type]
    again = await ledger.create_hold(session, amount=40, **arguments)  # type: ignore[arg-type]

    assert first.created is True
    assert again.created is False
    assert again.hold.id == first.hold.id
    assert accounts.credits.held == 40
    with pytest.raises(HoldConflict):
        await ledger.create_hold(session, amount=41, **arguments)  # type: ignore[arg-type]


async def test_capture_posts_part_and_releases_rest(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, credits=100)
    revenue = await ledger.system_account(session, AccountKind.REVENUE, CREDITS_UNIT)
    hold = (
        await ledger.create_hold(
            session,
            key="test:capture",
            account_id=accounts.credits.id,
            amount=60,
            reference_type="test",
            reference_id=1,
        )
    ).hold

    captured = await ledger.capture_hold(
        session, hold, amount=25, destination_id=revenue.id, kind="test_capture"
    )
    again = await ledger.release_hold(session, hold)
    await session.commit()

    assert captured is True
    assert again is False
    assert hold.status == HoldStatus.CAPTURED
    assert hold.captured == 25
    assert hold.transfer_id == "test:capture:capture"
    assert accounts.credits.posted == 75
    assert accounts.credits.held == 0
    assert revenue.posted == 25
    assert (await ledger.check_ledger(session)).ok


async def test_check_reports_tampered_accounts(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, credits=100)
    await session.commit()

    await session.execute(
        text("UPDATE ledger_accounts SET posted = posted + 1 WHERE id = :id"),
        {"id": accounts.credits.id},
    )
    await session.commit()
    result = await ledger.check_ledger(session)

    assert result.ok is False
    assert result.account_ids == [accounts.credits.id]
    assert result.mismatched_accounts[0].posted == 101
    assert result.mismatched_accounts[0].entries_total == 100


async def test_check_reports_unbalanced_transfers(session: AsyncSession) -> None:
    user = await create_user(session)
    accounts = await fund(session, user, credits=100)
    await session.commit()
    # Bypass the ORM to forge an entry, as a faulty migration or manual fix might.
    await session.execute(
        text(
            "INSERT INTO ledger_transfers (id, kind, created_at) "
            "VALUES ('forged', 'forged', CURRENT_TIMESTAMP)"
        )
    )
    await session.execute(
        text(
            "INSERT INTO ledger_entries (transfer_id, account_id, amount, created_at) "
            "VALUES ('forged', :id, 7, CURRENT_TIMESTAMP)"
        ),
        {"id": accounts.credits.id},
    )
    await session.commit()

    result = await ledger.check_ledger(session)

    assert [item.transfer_id for item in result.unbalanced_transfers] == ["forged"]
    assert result.unbalanced_transfers[0].total == 7
    assert result.account_ids == [accounts.credits.id]
