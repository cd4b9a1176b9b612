"""Messages: cursor pages, posting, read marks and unread counts."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.messaging.models import Chat
from mage_studio.users.models import User
from tests.factories import auth_headers, create_user
from tests.messaging.factories import (
    create_chat,
    create_chat_with_members,
    create_message,
    create_numbered_messages,
    messages_url,
)

MESSAGE_KEYS = {
    "id",
    "message",
    "attachment",
    "authorUser",
    "hiddenStatus",
    "createdAt",
}


async def _all_pages(
    client: httpx.AsyncClient, chat_id: int, headers: dict[str, str], limit: int
) -> list[int]:
    ids: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(
            messages_url(chat_id),
            params=params,
            headers=headers,
        )
        assert response.status_code == 200
        ids += [message["id"] for message in response.json()["data"]]
        cursor = response.json()["meta"]["next_cursor"]
        if cursor is None:
            return ids


async def test_messages_are_newest_first_in_pages(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    start = utcnow()
    messages = await create_numbered_messages(session, chat, alice, 7, start)
    await session.commit()
    headers = auth_headers(settings, bob)

    first = await client.get(f"{messages_url(chat.id)}?limit=3", headers=headers)
    ids = await _all_pages(client, chat.id, headers, limit=3)

    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"data", "meta"}
    assert set(body["data"][0]) == MESSAGE_KEYS
    assert [m["message"] for m in body["data"]] == ["m6", "m5", "m4"]
    assert body["meta"]["next_cursor"]
    assert ids == [message.id for message in reversed(messages)]


async def test_cursor_orders_equal_timestamps_by_id(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    same_time = utcnow()
    messages = [
        await create_message(session, chat, bob, f"m{i}", created_at=same_time)
        for i in range(5)
    ]
    await session.commit()

    ids = await _all_pages(client, chat.id, auth_headers(settings, alice), limit=2)

    assert ids == sorted((message.id for message in messages), reverse=True)


async def test_pages_stay_stable_under_concurrent_inserts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    originals = [await create_message(session, chat, alice, f"m{i}") for i in range(9)]
    await session.commit()
    headers = auth_headers(settings, bob)
    url = messages_url(chat.id)

    seen: list[int] = []
    cursor = None
    new_ids: list[int] = []
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 200
        seen += [message["id"] for message in response.json()["data"]]
        cursor = response.json()["meta"]["next_cursor"]
        if cursor is None:
            break
        # Another member writes between two page fetches.
        posted = await client.post(
            "/api/messages",
            json={"chatId": chat.id, "message": "interleaved"},
            headers=auth_headers(settings, alice),
        )
        assert posted.status_code == 201
        new_ids.append(posted.json()["data"]["id"])

    original_ids = [message.id for message in originals]
    assert len(new_ids) >= 3
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in original_ids] == list(reversed(original_ids))
    assert not set(seen) & set(new_ids)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "a.b.c",
        "%%%.***",
        "ééé.ééé",
        base64.urlsafe_b64encode(b'[1,"2020-01-01T00:00:00+00:00",1]').decode(),
    ],
)
async def test_garbage_cursor_is_400(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, cursor: str
) -> None:
    alice, _, chat = await create_chat_with_members(session)
    await session.commit()

    response = await client.get(
        messages_url(chat.id),
        params={"cursor": cursor},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400


async def test_forged_cursor_is_400(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    for i in range(3):
        await create_message(session, chat, alice, f"m{i}")
    await session.commit()
    headers = auth_headers(settings, bob)
    url = messages_url(chat.id)
    first = await client.get(url, params={"limit": 1}, headers=headers)
    cursor = first.json()["meta"]["next_cursor"]
    payload, signature = cursor.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded[2] += 1
    forged_payload = (
        base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    )

    forged = await client.get(
        url, params={"cursor": f"{forged_payload}.{signature}"}, headers=headers
    )
    genuine = await client.get(url, params={"cursor": cursor}, headers=headers)

    assert genuine.status_code == 200
    assert forged.status_code == 400


async def test_cursor_of_another_chat_is_400(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    carol = await create_user(session)
    other_chat = await create_chat(session, alice, carol)
    for i in range(3):
        await create_message(session, chat, bob, f"m{i}")
    await session.commit()
    headers = auth_headers(settings, alice)
    first = await client.get(
        messages_url(chat.id),
        params={"limit": 1},
        headers=headers,
    )

    response = await client.get(
        messages_url(other_chat.id),
        params={"cursor": first.json()["meta"]["next_cursor"]},
        headers=headers,
    )

    assert response.status_code == 400


@pytest.mark.parametrize("limit", [0, 101, -5])
async def test_limit_out_of_range_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, limit: int
) -> None:
    alice, _, chat = await create_chat_with_members(session)
    await session.commit()

    response = await client.get(
        messages_url(chat.id),
        params={"limit": limit},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 422
    assert "limit" in response.json()["error"]["validator"]


async def test_non_member_message_routes_404(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, _, chat = await create_chat_with_members(session)
    message = await create_message(session, chat, alice, "private")
    mallory = await create_user(session)
    await session.commit()
    headers = auth_headers(settings, mallory)

    listed = await client.get(messages_url(chat.id), headers=headers)
    posted = await client.post(
        "/api/messages", json={"chatId": chat.id, "message": "hi"}, headers=headers
    )
    marked = await client.post(
        f"/api/chats/{chat.id}/read", json={"messageId": message.id}, headers=headers
    )

    assert listed.status_code == 404
    assert posted.status_code == 404
    assert marked.status_code == 404
    assert "private" not in listed.text


async def test_post_message_with_nul_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, _, chat = await create_chat_with_members(session)
    await session.commit()

    response = await client.post(
        "/api/messages",
        json={"chatId": chat.id, "message": "before\u0000after"},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 422
    assert "message" in response.json()["error"]["validator"]


async def test_post_message_keeps_text_verbatim(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, _, chat = await create_chat_with_members(session)
    await session.commit()
    text = "<script>alert('x')</script> & ok"

    response = await client.post(
        "/api/messages",
        json={"chatId": chat.id, "message": f"  {text}\n"},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == 201
    message = response.json()["data"]
    assert set(message) == MESSAGE_KEYS
    assert message["message"] == text
    assert message["authorUser"]["id"] == alice.id
    assert message["hiddenStatus"] is False
    assert message["attachment"] is None


@pytest.mark.parametrize(
    ("text", "status"),
    [("", 422), ("   \n ", 422), ("x" * 5001, 422), ("x" * 5000, 201), ("y", 201)],
)
async def test_post_message_length_limits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    text: str,
    status: int,
) -> None:
    alice, _, chat = await create_chat_with_members(session)
    await session.commit()

    response = await client.post(
        "/api/messages",
        json={"chatId": chat.id, "message": text},
        headers=auth_headers(settings, alice),
    )

    assert response.status_code == status


async def _unread(
    client: httpx.AsyncClient, settings: Settings, user: User, chat: Chat
) -> int:
    response = await client.get(
        f"/api/chats/{chat.id}", headers=auth_headers(settings, user)
    )
    assert response.status_code == 200
    count: int = response.json()["data"]["unreadCount"]
    return count


async def test_unread_counts_follow_read_marks(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    start = utcnow()
    sent = await create_numbered_messages(session, chat, alice, 4, start)
    await create_message(session, chat, bob, "reply", created_at=start)
    await session.commit()
    url = f"/api/chats/{chat.id}/read"

    before = await _unread(client, settings, bob, chat)
    marked = await client.post(
        url, json={"messageId": sent[1].id}, headers=auth_headers(settings, bob)
    )
    backwards = await client.post(
        url, json={"messageId": sent[0].id}, headers=auth_headers(settings, bob)
    )
    after_backwards = await _unread(client, settings, bob, chat)
    to_end = await client.post(
        url, json={"messageId": sent[3].id}, headers=auth_headers(settings, bob)
    )

    assert before == 4
    assert await _unread(client, settings, alice, chat) == 1
    assert marked.status_code == 200
    assert marked.json()["data"] == {
        "chatId": chat.id,
        "lastReadMessageId": sent[1].id,
        "unreadCount": 2,
    }
    assert backwards.status_code == 200
    assert backwards.json()["data"]["lastReadMessageId"] == sent[1].id
    assert after_backwards == 2
    assert to_end.json()["data"]["unreadCount"] == 0
    assert await _unread(client, settings, bob, chat) == 0


async def test_own_and_hidden_messages_not_unread(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    await create_message(session, chat, alice, "visible")
    await create_message(session, chat, alice, "removed", hidden=True)
    mine = await create_message(session, chat, bob, "mine")
    await session.commit()

    read = await client.post(
        f"/api/chats/{chat.id}/read",
        json={"messageId": mine.id},
        headers=auth_headers(settings, bob),
    )

    assert await _unread(client, settings, alice, chat) == 1
    assert read.json()["data"]["unreadCount"] == 0


async def test_read_mark_needs_chat_message(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    alice, bob, chat = await create_chat_with_members(session)
    carol = await create_user(session)
    other_chat = await create_chat(session, alice, carol)
    elsewhere = await create_message(session, other_chat, carol, "elsewhere")
    await session.commit()
    url = f"/api/chats/{chat.id}/read"

    foreign = await client.post(
        url, json={"messageId": elsewhere.id}, headers=auth_headers(settings, alice)
    )
    unknown = await client.post(
        url, json={"messageId": elsewhere.id + 100}, headers=auth_headers(settings, bob)
    )

    assert foreign.status_code == 422
    assert "messageId" in foreign.json()["error"]["validator"]
    assert unknown.status_code == 422
