"""Support requests: subjects, tickets, their threads and status changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from mage_studio.auth.deps import CurrentUser
from mage_studio.core.routing import DbRoute, DbSession
from mage_studio.core.schemas import MAX_ROW_ID, Envelope, Page
from mage_studio.support import service
from mage_studio.support.notifications import Mailer
from mage_studio.support.schemas import (
    Label,
    StatusUpdate,
    SupportMessageCreate,
    SupportMessageRead,
    SupportRequestCreate,
    SupportRequestFilters,
    SupportRequestRead,
)

router = APIRouter(route_class=DbRoute, tags=["support"])

PathId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def get_mailer(request: Request) -> Mailer | None:
    """Return the application's mail service, or None when none is installed."""
    mailer: Mailer | None = getattr(request.app.state, "mail", None)
    return mailer


MailerDep = Annotated[Mailer | None, Depends(get_mailer)]


@router.get("/api/support-request-subjects", response_model=Envelope[list[Label]])
async def list_subjects() -> Envelope[list[Label]]:
    """List the subjects a support request can be filed under."""
    return Envelope(data=service.subjects())


@router.post(
    "/api/support-request",
    status_code=201,
    response_model=Envelope[SupportRequestRead],
)
async def create_request(
    payload: SupportRequestCreate, user: CurrentUser, session: DbSession
) -> Envelope[SupportRequestRead]:
    """Open a support request.

    `subject` is an id from the subject list. `orderId`, when given, must be one of
    the caller's orders (400 with code 1009 otherwise). `email`, when given, receives
    the replies instead of the account address.
    """
    request = await service.create_request(session, user, payload)
    return Envelope(data=service.present(request))


@router.post("/api/support-requests", response_model=Page[SupportRequestRead])
async def list_requests(
    filters: SupportRequestFilters, user: CurrentUser, session: DbSession
) -> Page[SupportRequestRead]:
    """Search the caller's own support requests, newest first.

    Filters are `id`, `statusId`, `startDate`, `endDate` and `search`. The dates are
    inclusive, and a bare date covers that whole day in UTC. `search` is literal text
    found in the email or the replies. `page` and `per_page` select the page.
    """
    return await service.list_own_requests(session, user, filters)


@router.get(
    "/api/support-request/{request_id}", response_model=Envelope[SupportRequestRead]
)
async def get_request(
    request_id: PathId, user: CurrentUser, session: DbSession
) -> Envelope[SupportRequestRead]:
    """Return a support request to its author or an administrator (404 otherwise)."""
    request = await service.visible_request(session, user, request_id)
    return Envelope(data=service.present(request))


@router.get(
    "/api/support-request-messages/{request_id}",
    response_model=Envelope[list[SupportMessageRead]],
)
async def get_thread(
    request_id: PathId, user: CurrentUser, session: DbSession
) -> Envelope[list[SupportMessageRead]]:
    """Return a request's thread, oldest first.

    Internal notes are included only for administrators.
    """
    return Envelope(data=await service.thread(session, user, request_id))


@router.post(
    "/api/send-support-request-message",
    status_code=201,
    response_model=Envelope[SupportMessageRead],
)
async def send_message(
    payload: SupportMessageCreate,
    user: CurrentUser,
    session: DbSession,
    mailer: MailerDep,
) -> Envelope[SupportMessageRead]:
    """Reply to a support request, as its author or as an administrator.

    Administrators may send `internal: true` for a note customers never see. A reply
    from the customer sets the status to 3 (Unread). A public reply from staff is
    mailed to the customer.
    """
    message = await service.post_message(session, user, payload, mailer)
    return Envelope(data=message)


@router.patch(
    "/api/support-request/status-update", response_model=Envelope[SupportRequestRead]
)
async def update_status(
    payload: StatusUpdate, user: CurrentUser, session: DbSession
) -> Envelope[SupportRequestRead]:
    """Change the status of a support request.

    Administrators may set any status (1 Open, 2 Closed, 3 Unread, 4 Read, 5 In
    progress) and assign the request to an administrator with `assigneeId` (null
    unassigns). The author may only close it (status 2): anything else is 403.
    """
    request = await service.update_status(session, user, payload)
    return Envelope(data=service.present(request))
