"""Chats: one per pair of users, visible to their members only."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from tests.factories import auth_headers, create_user
from tests.messaging.factories import create_chat, create_message

PUBLIC_USER_KEYS = {"id", "login", "profile_image", "online"}


async def test_create_chat_returns_recipient_without_email(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice = await create_user(session)
    bob = await create_user(session, login="bob")
    await session.commit()

    response = await client.post(
        "/api/chats",
        json={"recipientUserId": bob.id},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 201
    chat = response.json()["data"]
    assert set(chat) == {"id", "recipientUser", "lastMessage", "unreadCount"}
    assert set(chat["recipientUser"]) == PUBLIC_USER_KEYS
    assert chat["recipientUser"]["id"] == bob.id
    assert chat["recipientUser"]["login"] == "bob"
    assert chat["lastMessage"] is None
    assert chat["unreadCount"] == 0


async def test_duplicate_chat_either_direction_is_1003(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice = await create_user(session)
    bob = await create_user(session)
    await session.commit()
    first = await client.post(
        "/api/chats",
        json={"recipientUserId": bob.id},
        headers=auth_headers(settings, alice),
    )
    assert first.status_code == 201

    again = await client.post(
        "/api/chats",
        json={"recipientUserId": bob.id},
        headers=auth_headers(settings, alice),
    )
    reverse = await client.post(
        "/api/chats",
        json={"recipientUserId": alice.id},
        headers=auth_headers(settings, bob),
    )

    assert again.status_code == 400
    assert again.json()["error"]["code"] == 1003
    assert reverse.status_code == 400
    assert reverse.json()["error"]["code"] == 1003


async def test_create_chat_with_oneself_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice = await create_user(session)
    await session.commit()

    response = await client.post(
        "/api/chats",
        json={"recipientUserId": alice.id},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 422
    assert "recipientUserId" in response.json()["error"]["validator"]


async def test_create_chat_with_unknown_user_is_404(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice = await create_user(session)
    await session.commit()

    response = await client.post(
        "/api/chats",
        json={"recipientUserId": alice.id + 1000},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 404


async def test_chat_routes_require_authentication(client: httpx.AsyncClient) -> None:
    requests = [
        client.post("/api/chats", json={"recipientUserId": 1}),
        client.get("/api/chats/get-chats-by-current-user"),
        client.get("/api/chats/get-chat-by-user-id/1"),
        client.get("/api/chats/1"),
        client.post("/api/chats/1/read", json={"messageId": 1}),
        client.get("/api/messages/get-messages-by-chat-id/1"),
        client.post("/api/messages", json={"chatId": 1, "message": "hi"}),
    ]
    for request in requests:
        response = await request
        assert response.status_code == 401, response.request.url


async def test_get_chat_is_404_for_non_members(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice = await create_user(session)
    bob = await create_user(session)
    mallory = await create_user(session)
    chat = await create_chat(session, alice, bob)
    await session.commit()

    as_member = await client.get(
        f"/api/chats/{chat.id}", headers=auth_headers(settings, bob)
    )
    as_outsider = await client.get(
        f"/api/chats/{chat.id}", headers=auth_headers(settings, mallory)
    )
    unknown = await client.get(
        f"/api/chats/{chat.id + 100}", headers=auth_headers(settings, bob)
    )

    assert as_member.status_code == 200
    assert as_member.json()["data"]["recipientUser"]["id"] == alice.id
    assert as_outsider.status_code == 404
    assert unknown.status_code == 404


async def test_chat_by_user_without_chat_is_null(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice = await create_user(session)
    bob = await create_user(session)
    await session.commit()

    response = await client.get(
        f"/api/chats/get-chat-by-user-id/{bob.id}",
        headers=auth_headers(settings, alice),
    )
    unknown = await client.get(
        f"/api/chats/get-chat-by-user-id/{bob.id + 1000}",
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"id": None, "recipientUser": None}}
    assert unknown.status_code == 200
    assert unknown.json() == response.json()


async def test_chat_by_user_finds_either_direction(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice = await create_user(session)
    bob = await create_user(session)
    chat = await create_chat(session, bob, alice)
    await session.commit()

    response = await client.get(
        f"/api/chats/get-chat-by-user-id/{bob.id}",
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 200
    assert response.json()["data"]["id"] == chat.id
    assert response.json()["data"]["recipientUser"]["id"] == bob.id


async def test_list_chats_orders_by_activity(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice = await create_user(session)
    bob = await create_user(session)
    carol = await create_user(session)
    dave = await create_user(session)
    quiet = await create_chat(session, alice, bob)
    busy = await create_chat(session, carol, alice)
    await create_chat(session, bob, dave)
    await create_message(session, busy, carol, "first")
    await create_message(session, busy, carol, "<b>second</b>")
    await session.commit()

    response = await client.get(
        "/api/chats/get-chats-by-current-user", headers=auth_headers(settings, alice)
    )

    assert response.status_code == 200
    chats = response.json()["data"]
    assert [chat["id"] for chat in chats] == [busy.id, quiet.id]
    assert chats[0]["recipientUser"]["id"] == carol.id
    assert "email" not in chats[0]["recipientUser"]
    assert chats[0]["lastMessage"]["message"] == "<b>second</b>"
    assert set(chats[0]["lastMessage"]["authorUser"]) == PUBLIC_USER_KEYS
    assert chats[0]["unreadCount"] == 2
    assert chats[1]["lastMessage"] is None
    assert chats[1]["unreadCount"] == 0
