"""Support requests: creation, visibility, listing filters and search."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.schemas import PageParams
from mage_studio.support.catalog import SUBJECTS, SupportStatus
from mage_studio.support.schemas import SupportRequestSearch
from mage_studio.support.service import search_support_requests
from tests.factories import auth_headers, create_admin, create_user
from tests.support.factories import add_support_message, create_support_request

REQUEST_KEYS = {
    "id",
    "authorId",
    "subject",
    "status",
    "order_id",
    "email",
    "assigneeId",
    "createdAt",
    "updatedAt",
}


async def test_subjects_list_matches_catalog(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/support-request-subjects")

    assert response.status_code == 200
    subjects = response.json()["data"]
    assert [subject["id"] for subject in subjects] == list(SUBJECTS)
    assert {"id": 3, "label": "Billing and credits"} in subjects


async def test_create_request_stores_first_message(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()
    headers = auth_headers(settings, user)

    response = await client.post(
        "/api/support-request",
        json={"text": "  Preview never finishes.  ", "subject": 1, "email": ""},
        headers=headers,
    )
    request = response.json()["data"]
    thread = await client.get(
        f"/api/support-request-messages/{request['id']}", headers=headers
    )

    assert response.status_code == 201
    assert set(request) == REQUEST_KEYS
    assert request["authorId"] == user.id
    assert request["subject"] == {"id": 1, "label": SUBJECTS[1]}
    assert request["status"] == {"id": 1, "label": "Open"}
    assert request["order_id"] is None
    assert request["email"] is None
    assert request["assigneeId"] is None
    assert thread.status_code == 200
    assert [m["text"] for m in thread.json()["data"]] == ["Preview never finishes."]
    assert thread.json()["data"][0]["fromStaff"] is False


async def test_create_request_keeps_contact_email(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.post(
        "/api/support-request",
        json={"text": "Help", "subject": 4, "email": "Other@Example.com"},
        headers=auth_headers(settings, user),
    )

    assert response.status_code == 201
    assert response.json()["data"]["email"] == "other@example.com"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "Help", "subject": 99}, "subject"),
        ({"text": "   ", "subject": 1}, "text"),
        ({"text": "Help\u0000", "subject": 1}, "text"),
        ({"text": "Help"}, "subject"),
        ({"text": "Help", "subject": 1, "email": "not-an-email"}, "email"),
    ],
)
async def test_create_request_validates_fields(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    payload: dict[str, object],
    field: str,
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.post(
        "/api/support-request", json=payload, headers=auth_headers(settings, user)
    )

    assert response.status_code == 422
    assert field in response.json()["error"]["validator"]


async def test_support_routes_require_authentication(
    client: httpx.AsyncClient,
) -> None:
    calls = [
        ("POST", "/api/support-request", {"text": "x", "subject": 1}),
        ("POST", "/api/support-requests", {}),
        ("GET", "/api/support-request/1", None),
        ("GET", "/api/support-request-messages/1", None),
        (
            "POST",
            "/api/send-support-request-message",
            {"supportRequestId": 1, "text": "x"},
        ),
        (
            "PATCH",
            "/api/support-request/status-update",
            {"requestId": 1, "requestStatusId": 2},
        ),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, json=body)
        assert response.status_code == 401, url


async def test_request_visible_to_owner_and_admin(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    owner = await create_user(session)
    stranger = await create_user(session)
    admin = await create_admin(session)
    request = await create_support_request(session, owner)
    await session.commit()

    for user, expected in [(owner, 200), (admin, 200), (stranger, 404)]:
        headers = auth_headers(settings, user)
        single = await client.get(f"/api/support-request/{request.id}", headers=headers)
        thread = await client.get(
            f"/api/support-request-messages/{request.id}", headers=headers
        )
        assert single.status_code == expected
        assert thread.status_code == expected
    missing = await client.get(
        f"/api/support-request/{request.id + 100}",
        headers=auth_headers(settings, admin),
    )
    assert missing.status_code == 404


async def test_list_requests_filters_own_requests(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    other = await create_user(session)
    january = await create_support_request(
        session, user, created_at=datetime(2026, 1, 10, 12, tzinfo=UTC)
    )
    february = await create_support_request(
        session,
        user,
        status=SupportStatus.CLOSED,
        created_at=datetime(2026, 2, 10, 23, 30, tzinfo=UTC),
    )
    march = await create_support_request(
        session, user, created_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    await create_support_request(session, other)
    await session.commit()
    headers = auth_headers(settings, user)

    async def ids(filters: dict[str, object]) -> list[int]:
        response = await client.post(
            "/api/support-requests", json=filters, headers=headers
        )
        assert response.status_code == 200
        return [row["id"] for row in response.json()["data"]]

    assert await ids({}) == [march.id, february.id, january.id]
    assert await ids({"statusId": 2}) == [february.id]
    assert await ids({"id": january.id}) == [january.id]
    assert await ids({"startDate": "2026-02-10", "endDate": "2026-02-10"}) == [
        february.id
    ]
    assert await ids({"startDate": "2026-02-11"}) == [march.id]
    assert await ids({"endDate": "2026-02-10T23:00:00Z"}) == [january.id]
    assert await ids({"statusId": "", "startDate": "", "id": ""}) == [
        march.id,
        february.id,
        january.id,
    ]


async def test_list_requests_paginates(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    for _ in range(3):
        await create_support_request(session, user)
    await session.commit()

    response = await client.post(
        "/api/support-requests",
        json={"page": 2, "per_page": 2},
        headers=auth_headers(settings, user),
    )

    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    assert response.json()["meta"] == {
        "current_page": 2,
        "per_page": 2,
        "total": 3,
        "last_page": 2,
    }


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"statusId": 6}, "statusId"),
        ({"startDate": "yesterday"}, "startDate"),
        ({"endDate": "0001-01-01"}, "endDate"),
        ({"startDate": 1770681600}, "startDate"),
        ({"endDate": ["2026-02-10"]}, "endDate"),
        ({"per_page": 101}, "per_page"),
    ],
)
async def test_list_requests_rejects_bad_filters(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    filters: dict[str, object],
    field: str,
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.post(
        "/api/support-requests", json=filters, headers=auth_headers(settings, user)
    )

    assert response.status_code == 422
    assert list(response.json()["error"]["validator"]) == [field]


async def test_list_requests_rejects_nul_search(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.post(
        "/api/support-requests",
        json={"search": "stuck\u0000"},
        headers=auth_headers(settings, user),
    )

    assert response.status_code == 422
    assert "search" in response.json()["error"]["validator"]


@pytest.mark.parametrize(
    ("needle", "matching_text"),
    [
        ("100%", "Rendering stopped at 100% and hangs"),
        ("a_b", "The preset a_b fails"),
        ("C:\\", "Path C:\\ not found"),
    ],
)
async def test_search_matches_wildcards_literally(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    needle: str,
    matching_text: str,
) -> None:
    user = await create_user(session)
    match = await create_support_request(session, user, matching_text)
    # Each of these would match if the wildcard were not escaped.
    await create_support_request(session, user, "Rendering stopped at 1000 frames")
    await create_support_request(session, user, "The preset axb fails")
    await create_support_request(session, user, "Path C:/ not found")
    await session.commit()

    response = await client.post(
        "/api/support-requests",
        json={"search": needle},
        headers=auth_headers(settings, user),
    )

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["data"]] == [match.id]


async def test_admin_search_by_author_and_assignee(
    session: AsyncSession,
) -> None:
    first = await create_user(session)
    second = await create_user(session)
    admin = await create_admin(session)
    assigned = await create_support_request(session, first, assignee=admin)
    unassigned = await create_support_request(session, first)
    other = await create_support_request(session, second, status=SupportStatus.READ)
    await add_support_message(session, other, admin, "refund 50% issued", internal=True)
    await session.commit()

    by_author = await search_support_requests(
        session, SupportRequestSearch(userId=first.id)
    )
    by_assignee = await search_support_requests(
        session, SupportRequestSearch(assigneeId=admin.id)
    )
    by_note = await search_support_requests(
        session, SupportRequestSearch(search="50%"), PageParams(page=1, per_page=5)
    )
    by_status = await search_support_requests(
        session, SupportRequestSearch(statusId=int(SupportStatus.READ))
    )

    assert [row.id for row in by_author.data] == [unassigned.id, assigned.id]
    assert by_author.meta.total == 2
    assert [row.id for row in by_assignee.data] == [assigned.id]
    assert [row.id for row in by_note.data] == [other.id]
    assert by_note.meta.per_page == 5
    assert [row.id for row in by_status.data] == [other.id]
