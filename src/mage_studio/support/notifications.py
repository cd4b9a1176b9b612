"""Mail to the customer when staff replies to a support request."""

from __future__ import annotations

from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.routing import after_commit
from mage_studio.support.models import SupportRequest
from mage_studio.users.models import User

log = structlog.get_logger(__name__)


class Mailer(Protocol):
    """The part of the application's mail service this package uses."""

    async def send(self, to: str, subject: str, text: str) -> None: ...


def reply_address(request: SupportRequest, author: User) -> str | None:
    """Return the address for staff replies, or None when there is none to use.

    The address given on the request comes first. The account address is used only
    when it is verified and the customer did not turn notification mail off.
    """
    if request.email:
        return request.email
    if author.confirm_send_email and author.email_verified_at is not None:
        return author.email
    return None


def notify_staff_reply(
    session: AsyncSession,
    mailer: Mailer | None,
    *,
    request: SupportRequest,
    customer: User,
    text: str,
) -> None:
    """Mail the customer a staff reply once the transaction has committed."""
    address = reply_address(request, customer)
    if mailer is None or address is None:
        return
    request_id = request.id
    subject = f"Reply to your support request #{request_id}"
    body = (
        f"Our support team replied to your request #{request_id}:\n\n{text}\n\n"
        "Reply from your support page in Mage Studio."
    )

    async def send() -> None:
        await mailer.send(address, subject, body)
        log.info("support_reply_mail_sent", request_id=request_id)

    after_commit(session, send)
