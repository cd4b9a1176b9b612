"""Hiding chat messages: members see an empty placeholder, the change is audited."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.audit import AuditEntry
from tests.factories import auth_headers, create_admin
from tests.messaging.factories import (
    create_chat_with_members,
    create_message,
    messages_url,
)


async def test_hidden_message_shows_empty_to_members(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    admin = await create_admin(session)
    message = await create_message(session, chat, alice, "offensive words")
    await session.commit()

    hidden = await client.patch(
        f"/api/administration/messages/{message.id}/hidden",
        json={"hidden": True},
        headers=auth_headers(settings, admin),
    )
    listed = await client.get(
        messages_url(chat.id),
        headers=auth_headers(settings, bob),
    )
    chats = await client.get(
        "/api/chats/get-chats-by-current-user", headers=auth_headers(settings, alice)
    )

    assert hidden.status_code == 200
    assert hidden.json()["data"]["hiddenStatus"] is True
    assert hidden.json()["data"]["message"] == "offensive words"
    assert listed.json()["data"][0]["hiddenStatus"] is True
    assert listed.json()["data"][0]["message"] == ""
    assert chats.json()["data"][0]["lastMessage"]["message"] == ""
    assert "offensive" not in listed.text
    assert "offensive" not in chats.text


async def test_hide_and_show_are_audited(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    admin = await create_admin(session)
    message = await create_message(session, chat, alice, "text")
    await session.commit()
    url = f"/api/administration/messages/{message.id}/hidden"
    headers = auth_headers(settings, admin)

    await client.patch(url, json={"hidden": True}, headers=headers)
    shown = await client.patch(url, json={"hidden": False}, headers=headers)
    listed = await client.get(
        messages_url(chat.id),
        headers=auth_headers(settings, bob),
    )
    entries = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == "chat_message")
            .order_by(AuditEntry.id)
        )
    ).all()

    assert shown.status_code == 200
    assert listed.json()["data"][0]["message"] == "text"
    assert listed.json()["data"][0]["hiddenStatus"] is False
    assert [entry.action for entry in entries] == [
        "chat_message.hide",
        "chat_message.show",
    ]
    assert entries[0].actor_id == admin.id
    assert entries[0].target_id == str(message.id)
    assert entries[0].old_values == {"hidden": False}
    assert entries[0].new_values == {"hidden": True}


async def test_hide_needs_admin_and_existing_message(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, _, chat = await create_chat_with_members(session)
    admin = await create_admin(session)
    message = await create_message(session, chat, alice, "text")
    await session.commit()

    as_member = await client.patch(
        f"/api/administration/messages/{message.id}/hidden",
        json={"hidden": True},
        headers=auth_headers(settings, alice),
    )
    anonymous = await client.patch(
        f"/api/administration/messages/{message.id}/hidden", json={"hidden": True}
    )
    unknown = await client.patch(
        f"/api/administration/messages/{message.id + 100}/hidden",
        json={"hidden": True},
        headers=auth_headers(settings, admin),
    )

    assert as_member.status_code == 403
    assert anonymous.status_code == 401
    assert unknown.status_code == 404
