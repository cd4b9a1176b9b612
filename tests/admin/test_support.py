"""The search over every user's support requests."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.users.models import User
from tests.admin.factories import create_support_request
from tests.factories import auth_headers, create_user

SUPPORT = "/api/administration/support-requests"


@pytest.fixture
def headers(settings: Settings, admin: User) -> dict[str, str]:
    return auth_headers(settings, admin)


async def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def test_support_search_covers_every_user(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    admin: User,
) -> None:
    first = await create_user(session)
    second = await create_user(session)
    mine = await create_support_request(session, first, assignee=admin)
    theirs = await create_support_request(session, second)
    theirs.status_id = 2
    await session.commit()

    async def search(**filters: object) -> list[int]:
        return await _ids(await client.post(SUPPORT, json=filters, headers=headers))

    assert await search() == [theirs.id, mine.id]
    assert await search(userId=second.id) == [theirs.id]
    assert await search(assigneeId=admin.id) == [mine.id]
    assert await search(statusId=2) == [theirs.id]
    assert await search(id=mine.id) == [mine.id]
    assert await search(endDate="2000-01-01") == []


async def test_support_search_validates(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(SUPPORT, json={"statusId": 9}, headers=headers)

    assert response.status_code == 422
    assert "statusId" in response.json()["error"]["validator"]
