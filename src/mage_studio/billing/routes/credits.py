"""The caller's balances and ledger entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from mage_studio.auth.deps import AppSettings, CurrentUser
from mage_studio.billing import accounts, presenters
from mage_studio.billing.schemas import CreditsPage
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import PageParams, page_params

router = APIRouter(route_class=DbRoute, tags=["credits"])


@router.get("/api/credits")
async def get_credits(
    user: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    page: Annotated[PageParams, Depends(page_params)],
) -> CreditsPage:
    """Show the caller's GPU credits and money balance (posted, held by open renders
    or withdrawals, and available), with a page of ledger entries, newest first."""
    statement = await accounts.statement(session, user.id, settings, page)
    return CreditsPage(
        data=presenters.credits_summary(statement), meta=page.meta(statement.total)
    )
