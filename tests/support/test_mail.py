"""Mail to customers about staff replies, delivered to a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mage_studio.users.models import User
from tests.factories import auth_headers, create_admin, create_user
from tests.messaging.smtp import MailEnvironment, body_of, mail_environment
from tests.support.factories import create_support_request


@pytest.fixture
async def mail(database_url: str, storage_root: Path) -> AsyncIterator[MailEnvironment]:
    async with mail_environment(database_url, storage_root) as environment:
        yield environment


async def _reply(
    mail: MailEnvironment, author: User, request_id: int, text: str, internal: bool
) -> httpx.Response:
    return await mail.client.post(
        "/api/send-support-request-message",
        json={"supportRequestId": request_id, "text": text, "internal": internal},
        headers=auth_headers(mail.settings, author),
    )


async def test_staff_reply_is_mailed_to_customer(mail: MailEnvironment) -> None:
    customer = await create_user(mail.session, email="customer@example.com")
    admin = await create_admin(mail.session)
    request = await create_support_request(mail.session, customer)
    await mail.session.commit()

    note = await _reply(mail, admin, request.id, "internal-only remark", True)
    own = await _reply(mail, customer, request.id, "Any update?", False)
    reply = await _reply(mail, admin, request.id, "Your credits are refunded.", False)
    messages = await mail.delivered()

    assert note.status_code == 201
    assert own.status_code == 201
    assert reply.status_code == 201
    assert len(messages) == 1
    assert messages[0]["To"] == "customer@example.com"
    assert messages[0]["Subject"] == f"Reply to your support request #{request.id}"
    assert "Your credits are refunded." in body_of(messages[0])
    assert "internal-only" not in body_of(messages[0])


async def test_staff_reply_goes_to_request_email(mail: MailEnvironment) -> None:
    customer = await create_user(mail.session)
    customer.confirm_send_email = False
    admin = await create_admin(mail.session)
    with_email = await create_support_request(
        mail.session, customer, email="billing@studio.example"
    )
    without_email = await create_support_request(mail.session, customer)
    await mail.session.commit()

    await _reply(mail, admin, with_email.id, "Done.", False)
    await _reply(mail, admin, without_email.id, "Done.", False)
    messages = await mail.delivered()

    assert [message["To"] for message in messages] == ["billing@studio.example"]
