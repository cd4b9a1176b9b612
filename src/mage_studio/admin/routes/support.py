"""Administration of support: a search over every user's support requests."""

from __future__ import annotations

from fastapi import APIRouter

from mage_studio.auth.deps import AdminUser
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import Page
from mage_studio.support import service as support
from mage_studio.support.schemas import SupportRequestRead, SupportRequestSearch

router = APIRouter(route_class=DbRoute, tags=["administration: support"])


@router.post("/support-requests", response_model=Page[SupportRequestRead])
async def search_support_requests(
    filters: SupportRequestSearch, _: AdminUser, session: DbSession
) -> Page[SupportRequestRead]:
    """Search every support request, newest first.

    Filters: `id`, `statusId`, `startDate`, `endDate`, `userId` (the author),
    `assigneeId` and `search`. The dates are inclusive, and a bare date covers that
    whole day in UTC. `search` is literal text found in the email or the thread,
    internal notes included. `page` and `per_page` select the page.
    """
    return await support.search_support_requests(session, filters)
