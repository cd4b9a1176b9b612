"""Mail sent when a chat message arrives."""

from __future__ import annotations

from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.routing import after_commit
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

PREVIEW_LENGTH = 500


class Mailer(Protocol):
    """The part of the application's mail service this package uses."""

    async def send(self, to: str, subject: str, text: str) -> None: ...


def may_email(user: User) -> bool:
    """Return whether `user` accepts notification mail at a verified address."""
    return user.confirm_send_email and user.email_verified_at is not None


def notify_new_message(
    session: AsyncSession,
    mailer: Mailer | None,
    *,
    recipient: User,
    author: User,
    chat_id: int,
    text: str,
) -> None:
    """Mail `recipient` about a new message once the transaction has committed."""
    if mailer is None or not may_email(recipient):
        return
    address = recipient.email
    subject = f"New message from {author.login}"
    preview = text if len(text) <= PREVIEW_LENGTH else text[:PREVIEW_LENGTH] + "…"
    body = (
        f"{author.login} sent you a message on Mage Studio:\n\n{preview}\n\n"
        "Open your chats to reply. You can turn these emails off in your profile."
    )

    async def send() -> None:
        await mailer.send(address, subject, body)
        log.info("chat_message_mail_sent", chat_id=chat_id, recipient_id=recipient.id)

    after_commit(session, send)
