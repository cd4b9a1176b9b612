"""Mail about new chat messages, delivered to a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.users.models import User
from tests.factories import auth_headers, create_user
from tests.messaging.factories import create_chat
from tests.messaging.smtp import MailEnvironment, body_of, mail_environment


@pytest.fixture
async def mail(database_url: str, storage_root: Path) -> AsyncIterator[MailEnvironment]:
    async with mail_environment(database_url, storage_root) as environment:
        yield environment


async def _send(
    mail: MailEnvironment, author: User, chat_id: int, text: str
) -> httpx.Response:
    return await mail.client.post(
        "/api/messages",
        json={"chatId": chat_id, "message": text},
        headers=auth_headers(mail.settings, author),
    )


async def test_first_unread_message_is_mailed(mail: MailEnvironment) -> None:
    alice = await create_user(mail.session, login="alice")
    bob = await create_user(mail.session, email="bob@example.com")
    chat = await create_chat(mail.session, alice, bob)
    await mail.session.commit()

    first = await _send(mail, alice, chat.id, "Ready for <b>review</b>?")
    second = await _send(mail, alice, chat.id, "Ping")
    after_second = len(await mail.delivered())
    await mail.client.post(
        f"/api/chats/{chat.id}/read",
        json={"messageId": second.json()["data"]["id"]},
        headers=auth_headers(mail.settings, bob),
    )
    third = await _send(mail, alice, chat.id, "Hello?")
    messages = await mail.delivered()

    assert first.status_code == 201
    assert third.status_code == 201
    assert after_second == 1
    assert len(messages) == 2
    assert messages[0]["To"] == "bob@example.com"
    assert messages[0]["Subject"] == "New message from alice"
    assert "Ready for <b>review</b>?" in body_of(messages[0])
    assert "Hello?" in body_of(messages[1])


async def test_no_mail_when_recipient_opted_out(mail: MailEnvironment) -> None:
    alice = await create_user(mail.session)
    bob = await create_user(mail.session)
    unverified = await create_user(mail.session, verified=False)
    bob.confirm_send_email = False
    to_bob = await create_chat(mail.session, alice, bob)
    to_unverified = await create_chat(mail.session, alice, unverified)
    await mail.session.commit()

    opted_out = await _send(mail, alice, to_bob.id, "hi")
    not_verified = await _send(mail, alice, to_unverified.id, "hi")

    assert opted_out.status_code == 201
    assert not_verified.status_code == 201
    assert await mail.delivered() == []


async def test_message_posts_without_mail_service(
    client: httpx.AsyncClient, app: FastAPI, session: AsyncSession, settings: Settings
) -> None:
    if hasattr(app.state, "mail"):
        del app.state.mail
    alice = await create_user(session)
    bob = await create_user(session)
    chat = await create_chat(session, alice, bob)
    await session.commit()

    response = await client.post(
        "/api/messages",
        json={"chatId": chat.id, "message": "hi"},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 201
