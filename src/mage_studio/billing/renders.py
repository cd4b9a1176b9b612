"""Credits for renders: cost, and the two-phase hold around each render.

How the job and queue code uses it (each call only flushes; the caller commits):

1. Price the render: `cost = render_cost(frames, model.credits_per_frame,
   preview=..., settings=settings)`. Preview frames within
   `settings.free_preview_frames` cost nothing.
2. When queueing (generate for a preview, finalize for the full render):
   `reserve_render(session, user_id=..., job_id=..., attempt_key=..., credits=cost)`.
   It raises `InsufficientCredits` (402, code 1011) when the user's available credits
   are short. `attempt_key` names this reservation of the job ("preview", "full",
   "full-2", ...). Calling again with the same job and key returns the same hold, so
   a retried request reserves once.
3. When the render finishes, or is cancelled or fails after some frames:
   `capture_render(session, job_id=..., credits_used=frames_done * rate)` charges that
   much (capped at the hold) and releases the rest in the same transaction.
4. When it is cancelled before any frame or fails without charge:
   `release_render(session, job_id=...)`.

Capture and release settle the hold by compare-and-set, so only the first settlement of
a hold takes effect; a re-delivered completion, or a cancel racing a completion, gets
`SettlementOutcome.ALREADY_SETTLED` and changes nothing. Without `attempt_key`,
capture and release act on the job's newest open hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing import ledger
from mage_studio.billing.models import (
    CREDITS_UNIT,
    AccountKind,
    HoldStatus,
    LedgerHold,
)
from mage_studio.config import Settings

log = structlog.get_logger(__name__)

RENDER_REFERENCE = "render"
RENDER_CAPTURE = "render_capture"


class SettlementOutcome(StrEnum):
    CAPTURED = "captured"
    RELEASED = "released"
    ALREADY_SETTLED = "already_settled"
    NO_HOLD = "no_hold"


@dataclass(frozen=True)
class RenderSettlement:
    """Result of a capture or release: the credits charged and those returned."""

    outcome: SettlementOutcome
    hold: LedgerHold | None
    captured: int = 0
    released: int = 0


def render_cost(frames: int, rate: int, *, preview: bool, settings: Settings) -> int:
    """Return the credits for `frames` frames at `rate` credits per frame.

    A preview is charged only for frames beyond `settings.free_preview_frames`.
    """
    ledger.ensure_amount(frames, "frames", allow_zero=True)
    ledger.ensure_amount(rate, "rate", allow_zero=True)
    charged = frames
    if preview:
        charged = max(0, frames - settings.free_preview_frames)
    return ledger.checked_product(charged, rate, "frames")


def render_hold_key(job_id: int, attempt_key: str | int) -> str:
    return f"render:{job_id}:{attempt_key}"


async def reserve_render(
    session: AsyncSession,
    *,
    user_id: int,
    job_id: int,
    attempt_key: str | int,
    credits: int,
) -> LedgerHold:
    """Hold `credits` of the user's credits for a render of `job_id`.

    Raises `InsufficientCredits` (402, code 1011) when the available credits are
    short, and `HoldConflict` (409) when this job and key were reserved with a
    different amount.
    """
    ledger.ensure_amount(credits, "credits", allow_zero=True)
    account = await ledger.user_account(
        session, user_id, AccountKind.CREDITS, CREDITS_UNIT
    )
    result = await ledger.create_hold(
        session,
        key=render_hold_key(job_id, attempt_key),
        account_id=account.id,
        amount=credits,
        reference_type=RENDER_REFERENCE,
        reference_id=job_id,
    )
    if result.created:
        log.info("render_credits_reserved", job_id=job_id, credits=credits)
    return result.hold


async def _render_hold(
    session: AsyncSession, job_id: int, attempt_key: str | int | None
) -> LedgerHold | None:
    if attempt_key is not None:
        return await ledger.hold_by_key(session, render_hold_key(job_id, attempt_key))
    holds = list(
        await session.scalars(
            select(LedgerHold)
            .where(
                LedgerHold.reference_type == RENDER_REFERENCE,
                LedgerHold.reference_id == job_id,
            )
            .order_by(LedgerHold.id.desc())
            .execution_options(populate_existing=True)
        )
    )
    open_holds = [hold for hold in holds if hold.status == HoldStatus.HELD.value]
    candidates = open_holds or holds
    return candidates[0] if candidates else None


async def capture_render(
    session: AsyncSession,
    *,
    job_id: int,
    credits_used: int,
    attempt_key: str | int | None = None,
) -> RenderSettlement:
    """Charge `credits_used` of the render's hold and release the rest.

    `credits_used` above the hold is capped at the hold (and logged). Returns
    `NO_HOLD` when the job has no hold and `ALREADY_SETTLED` when its hold was captured
    or released before; neither changes anything.
    """
    ledger.ensure_amount(credits_used, "credits_used", allow_zero=True)
    hold = await _render_hold(session, job_id, attempt_key)
    if hold is None:
        log.warning("render_capture_without_hold", job_id=job_id)
        return RenderSettlement(SettlementOutcome.NO_HOLD, None)
    if credits_used > hold.amount:
        log.warning(
            "render_capture_capped",
            job_id=job_id,
            credits_used=credits_used,
            held=hold.amount,
        )
    charged = min(credits_used, hold.amount)
    revenue = await ledger.system_account(session, AccountKind.REVENUE, CREDITS_UNIT)
    captured = await ledger.capture_hold(
        session,
        hold,
        amount=charged,
        destination_id=revenue.id,
        kind=RENDER_CAPTURE,
        memo=f"Render of job {job_id}",
    )
    if not captured:
        return RenderSettlement(SettlementOutcome.ALREADY_SETTLED, hold)
    return RenderSettlement(
        SettlementOutcome.CAPTURED,
        hold,
        captured=charged,
        released=hold.amount - charged,
    )


async def release_render(
    session: AsyncSession, *, job_id: int, attempt_key: str | int | None = None
) -> RenderSettlement:
    """Return the whole hold of the render to the user's available credits."""
    hold = await _render_hold(session, job_id, attempt_key)
    if hold is None:
        return RenderSettlement(SettlementOutcome.NO_HOLD, None)
    if not await ledger.release_hold(session, hold):
        return RenderSettlement(SettlementOutcome.ALREADY_SETTLED, hold)
    return RenderSettlement(SettlementOutcome.RELEASED, hold, released=hold.amount)
