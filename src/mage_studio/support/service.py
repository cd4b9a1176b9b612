"""Rules for support requests: who may see, reply to and change a request."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.audit import record_audit
from mage_studio.core.schemas import Page, PageParams
from mage_studio.errors import AppError, Forbidden, NotFound, ValidationFailed
from mage_studio.support import repository
from mage_studio.support.catalog import STATUS_LABELS, SUBJECTS, SupportStatus
from mage_studio.support.models import SupportMessage, SupportRequest
from mage_studio.support.notifications import Mailer, notify_staff_reply
from mage_studio.support.orders import is_own_order
from mage_studio.support.schemas import (
    Label,
    StatusUpdate,
    SupportMessageCreate,
    SupportMessageRead,
    SupportRequestCreate,
    SupportRequestFilters,
    SupportRequestRead,
    SupportRequestSearch,
)
from mage_studio.users.models import User

log = structlog.get_logger(__name__)


class SupportRequestNotFound(NotFound):
    message = "The support request was not found."


class OrderNotYours(AppError):
    status_code = 400
    code = 1009
    message = "The order was not found among your orders."


def subjects() -> list[Label]:
    return [Label(id=subject_id, label=label) for subject_id, label in SUBJECTS.items()]


def present(request: SupportRequest) -> SupportRequestRead:
    status = SupportStatus(request.status_id)
    return SupportRequestRead(
        id=request.id,
        authorId=request.author_id,
        subject=Label(
            id=request.subject_id, label=SUBJECTS.get(request.subject_id, "Other")
        ),
        status=Label(id=status, label=STATUS_LABELS[status]),
        order_id=request.order_id,
        email=request.email,
        assigneeId=request.assignee_id,
        createdAt=request.created_at,
        updatedAt=request.updated_at,
    )


def present_message(
    message: SupportMessage, request: SupportRequest
) -> SupportMessageRead:
    return SupportMessageRead(
        id=message.id,
        supportRequestId=message.request_id,
        authorId=message.author_id,
        fromStaff=message.author_id != request.author_id,
        text=message.body,
        internal=message.internal,
        createdAt=message.created_at,
    )


async def visible_request(
    session: AsyncSession, user: User, request_id: int
) -> SupportRequest:
    """Return the request to its author or an admin. Others get a 404."""
    request = await session.get(SupportRequest, request_id)
    if request is None or not (request.author_id == user.id or user.is_admin):
        raise SupportRequestNotFound()
    return request


async def create_request(
    session: AsyncSession, user: User, payload: SupportRequestCreate
) -> SupportRequest:
    """Open a support request. Its text becomes the first message of the thread."""
    if payload.subject not in SUBJECTS:
        raise ValidationFailed.field("subject", "Choose a subject from the list.")
    if payload.orderId is not None and not await is_own_order(
        session, user.id, payload.orderId
    ):
        raise OrderNotYours()

    request = SupportRequest(
        author_id=user.id,
        subject_id=payload.subject,
        status_id=int(SupportStatus.OPEN),
        order_id=payload.orderId,
        email=str(payload.email).lower() if payload.email else None,
    )
    session.add(request)
    await session.flush()
    session.add(
        SupportMessage(request_id=request.id, author_id=user.id, body=payload.text)
    )
    await session.flush()
    log.info("support_request_created", request_id=request.id, user_id=user.id)
    return request


async def search_support_requests(
    session: AsyncSession,
    filters: SupportRequestSearch,
    page: PageParams | None = None,
    *,
    include_internal: bool = True,
) -> Page[SupportRequestRead]:
    """Search every support request, newest first (for administrators).

    `page` overrides the page fields of `filters`. The `search` text is matched
    literally (LIKE wildcards are escaped) against the email and the thread, internal
    notes included unless `include_internal` is False.
    """
    page = page or PageParams(page=filters.page, per_page=filters.per_page)
    rows, total = await repository.search(
        session,
        filters,
        include_internal=include_internal,
        offset=page.offset,
        limit=page.per_page,
    )
    return Page(data=[present(row) for row in rows], meta=page.meta(total))


async def list_own_requests(
    session: AsyncSession, user: User, filters: SupportRequestFilters
) -> Page[SupportRequestRead]:
    """Search the caller's own requests. Internal notes are never searched."""
    own = SupportRequestSearch(**filters.model_dump(), userId=user.id)
    return await search_support_requests(session, own, include_internal=False)


async def thread(
    session: AsyncSession, user: User, request_id: int
) -> list[SupportMessageRead]:
    """Return the thread of a request, with internal notes only for administrators."""
    request = await visible_request(session, user, request_id)
    messages = await repository.thread(
        session, request.id, include_internal=user.is_admin
    )
    return [present_message(message, request) for message in messages]


async def post_message(
    session: AsyncSession,
    user: User,
    payload: SupportMessageCreate,
    mailer: Mailer | None,
) -> SupportMessageRead:
    """Add a reply or an internal note to a request.

    A reply from the customer marks the request Unread (reopening a closed one). A
    public reply from staff is mailed to the customer.
    """
    request = await visible_request(session, user, payload.supportRequestId)
    if payload.internal and not user.is_admin:
        raise Forbidden("Only administrators can write internal notes.")

    message = SupportMessage(
        request_id=request.id,
        author_id=user.id,
        body=payload.text,
        internal=payload.internal,
    )
    session.add(message)
    if user.id == request.author_id:
        request.status_id = int(SupportStatus.UNREAD)
    await session.flush()

    if user.id != request.author_id:
        await _record_staff_message(session, user, request, message)
    if user.id != request.author_id and not message.internal:
        customer = await session.get(User, request.author_id)
        assert customer is not None, "requests are deleted with their author"
        notify_staff_reply(
            session, mailer, request=request, customer=customer, text=message.body
        )
    return present_message(message, request)


async def _record_staff_message(
    session: AsyncSession,
    admin: User,
    request: SupportRequest,
    message: SupportMessage,
) -> None:
    action = "support_request.note" if message.internal else "support_request.reply"
    await record_audit(
        session,
        admin,
        action,
        "support_request",
        request.id,
        None,
        {"message_id": message.id, "internal": message.internal},
    )


async def update_status(
    session: AsyncSession, user: User, payload: StatusUpdate
) -> SupportRequest:
    """Change a request's status (and, for administrators, its assignee).

    Administrators may set any status and assign the request to an administrator.
    The author may only close the request: anything else is 403.
    """
    request = await visible_request(session, user, payload.requestId)
    wants_assignment = "assigneeId" in payload.model_fields_set
    if not user.is_admin:
        if payload.requestStatusId != SupportStatus.CLOSED or wants_assignment:
            raise Forbidden("You can only close your own support request.")
        request.status_id = int(SupportStatus.CLOSED)
        await session.flush()
        log.info("support_request_closed", request_id=request.id, user_id=user.id)
        return request

    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    if request.status_id != payload.requestStatusId:
        old["status_id"], new["status_id"] = request.status_id, payload.requestStatusId
        request.status_id = payload.requestStatusId
    if wants_assignment and request.assignee_id != payload.assigneeId:
        await _check_assignee(session, payload.assigneeId)
        old["assignee_id"], new["assignee_id"] = request.assignee_id, payload.assigneeId
        request.assignee_id = payload.assigneeId
    if new:
        await session.flush()
        await record_audit(
            session,
            user,
            "support_request.update",
            "support_request",
            request.id,
            old,
            new,
        )
    return request


async def _check_assignee(session: AsyncSession, assignee_id: int | None) -> None:
    if assignee_id is None:
        return
    assignee = await session.get(User, assignee_id)
    if assignee is None or not assignee.active or not assignee.is_admin:
        raise ValidationFailed.field(
            "assigneeId", "The assignee must be an active administrator."
        )
