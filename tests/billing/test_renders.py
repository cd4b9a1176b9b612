"""Render holds: cost, reserve, capture, release, and the service-level render flow."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger, renders
from mage_studio.billing.errors import HoldConflict, InsufficientCredits, InvalidAmount
from mage_studio.billing.models import CREDITS_UNIT, AccountKind, HoldStatus
from mage_studio.billing.renders import SettlementOutcome
from mage_studio.config import Settings
from tests.billing.factories import available, fund
from tests.factories import create_user


def test_render_cost_multiplies_frames_by_rate(settings: Settings) -> None:
    assert renders.render_cost(48, 3, preview=False, settings=settings) == 144


def test_render_cost_charges_preview_frames_by_default(settings: Settings) -> None:
    assert settings.free_preview_frames == 0
    assert renders.render_cost(4, 5, preview=True, settings=settings) == 20


def test_render_cost_free_preview_allowance(settings: Settings) -> None:
    generous = settings.model_copy(update={"free_preview_frames": 3})
    assert renders.render_cost(2, 5, preview=True, settings=generous) == 0
    assert renders.render_cost(5, 5, preview=True, settings=generous) == 10
    assert renders.render_cost(5, 5, preview=False, settings=generous) == 25


@pytest.mark.parametrize(
    ("frames", "rate"), [(-1, 1), (1, -1), (1.0, 1), (1, "2"), (2**62, 4)]
)
def test_render_cost_rejects_invalid_input(
    settings: Settings, frames: object, rate: object
) -> None:
    with pytest.raises(InvalidAmount):
        renders.render_cost(frames, rate, preview=False, settings=settings)  # type: ignore[arg-type]


async def test_reserve_render_holds_credits(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=100)

    hold = await renders.reserve_render(
        session, user_id=user.id, job_id=7, attempt_key="full", credits=80
    )
    again = await renders.reserve_render(
        session, user_id=user.id, job_id=7, attempt_key="full", credits=80
    )
    await session.commit()

    assert again.id == hold.id
    assert hold.status == HoldStatus.HELD
    assert await available(session, user) == (0, 20)


async def test_reserve_render_short_credits_is_402(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=10)

    with pytest.raises(InsufficientCredits) as raised:
        await renders.reserve_render(
            session, user_id=user.id, job_id=8, attempt_key="full", credits=11
        )
    assert raised.value.code == 1011


async def test_reserve_render_without_accounts_is_402(session: AsyncSession) -> None:
    user = await create_user(session)

    with pytest.raises(InsufficientCredits):
        await renders.reserve_render(
            session, user_id=user.id, job_id=9, attempt_key="full", credits=1
        )


async def test_reserve_render_other_amount_conflicts(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=100)
    await renders.reserve_render(
        session, user_id=user.id, job_id=10, attempt_key="full", credits=50
    )

    with pytest.raises(HoldConflict):
        await renders.reserve_render(
            session, user_id=user.id, job_id=10, attempt_key="full", credits=60
        )


async def test_render_flow_partial_capture(session: AsyncSession) -> None:
    """Finalize holds 48 frames x 2 credits; a cancel after 10 frames charges 20."""
    user = await create_user(session)
    await fund(session, user, credits=150)
    await session.commit()

    await renders.reserve_render(
        session, user_id=user.id, job_id=11, attempt_key="full", credits=96
    )
    await session.commit()
    assert await available(session, user) == (0, 54)

    settlement = await renders.capture_render(session, job_id=11, credits_used=20)
    await session.commit()

    assert settlement.outcome is SettlementOutcome.CAPTURED
    assert settlement.captured == 20
    assert settlement.released == 76
    assert await available(session, user) == (0, 130)
    revenue = await ledger.system_account(session, AccountKind.REVENUE, CREDITS_UNIT)
    assert revenue.posted == 20
    assert (await ledger.check_ledger(session)).ok


async def test_render_flow_finish_captures_all(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=96)
    await renders.reserve_render(
        session, user_id=user.id, job_id=12, attempt_key="full", credits=96
    )

    settlement = await renders.capture_render(session, job_id=12, credits_used=96)
    await session.commit()

    assert settlement.captured == 96
    assert settlement.released == 0
    assert await available(session, user) == (0, 0)


async def test_redelivered_completion_changes_nothing(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=100)
    await renders.reserve_render(
        session, user_id=user.id, job_id=13, attempt_key="full", credits=60
    )
    await renders.capture_render(session, job_id=13, credits_used=30)

    again = await renders.capture_render(session, job_id=13, credits_used=30)
    release = await renders.release_render(session, job_id=13)
    await session.commit()

    assert again.outcome is SettlementOutcome.ALREADY_SETTLED
    assert again.captured == 0
    assert release.outcome is SettlementOutcome.ALREADY_SETTLED
    assert await available(session, user) == (0, 70)


async def test_capture_over_hold_is_capped(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=100)
    await renders.reserve_render(
        session, user_id=user.id, job_id=14, attempt_key="full", credits=40
    )

    settlement = await renders.capture_render(session, job_id=14, credits_used=55)

    assert settlement.captured == 40
    assert await available(session, user) == (0, 60)


async def test_release_render_returns_everything(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=100)
    await renders.reserve_render(
        session, user_id=user.id, job_id=15, attempt_key="full", credits=100
    )

    settlement = await renders.release_render(session, job_id=15)
    await session.commit()

    assert settlement.outcome is SettlementOutcome.RELEASED
    assert settlement.released == 100
    assert await available(session, user) == (0, 100)


async def test_settling_without_hold_is_noop(session: AsyncSession) -> None:
    captured = await renders.capture_render(session, job_id=999, credits_used=5)
    released = await renders.release_render(session, job_id=999)

    assert captured.outcome is SettlementOutcome.NO_HOLD
    assert released.outcome is SettlementOutcome.NO_HOLD


async def test_zero_cost_render_settles_cleanly(session: AsyncSession) -> None:
    user = await create_user(session)
    hold = await renders.reserve_render(
        session, user_id=user.id, job_id=16, attempt_key="preview", credits=0
    )
    settlement = await renders.capture_render(session, job_id=16, credits_used=0)

    assert hold.amount == 0
    assert settlement.outcome is SettlementOutcome.CAPTURED
    assert (await ledger.check_ledger(session)).ok


async def test_settlement_picks_the_open_hold(session: AsyncSession) -> None:
    user = await create_user(session)
    await fund(session, user, credits=100)
    await renders.reserve_render(
        session, user_id=user.id, job_id=17, attempt_key="preview", credits=10
    )
    await renders.capture_render(session, job_id=17, credits_used=10)
    await renders.reserve_render(
        session, user_id=user.id, job_id=17, attempt_key="full", credits=50
    )

    settlement = await renders.release_render(session, job_id=17)

    assert settlement.hold is not None
    assert settlement.hold.key == "render:17:full"
    assert await available(session, user) == (0, 90)


async def test_capture_racing_release_has_one_outcome(app: FastAPI) -> None:
    database = app.state.database
    async with database.session() as session:
        user = await create_user(session)
        await fund(session, user, credits=100)
        await renders.reserve_render(
            session, user_id=user.id, job_id=18, attempt_key="full", credits=100
        )

    async def capture() -> SettlementOutcome:
        async with database.session() as session:
            result = await renders.capture_render(session, job_id=18, credits_used=30)
            return result.outcome

    async def release() -> SettlementOutcome:
        async with database.session() as session:
            result = await renders.release_render(session, job_id=18)
            return result.outcome

    outcomes = await asyncio.gather(capture(), release(), capture(), release())

    settled = [
        item for item in outcomes if item is not SettlementOutcome.ALREADY_SETTLED
    ]
    assert len(settled) == 1
    async with database.session() as session:
        expected = 70 if settled[0] is SettlementOutcome.CAPTURED else 100
        assert await available(session, user) == (0, expected)
        assert (await ledger.check_ledger(session)).ok
