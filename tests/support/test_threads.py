"""Support threads: replies, internal notes and status rules."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.core.audit import AuditEntry
from mage_studio.support.catalog import SupportStatus
from tests.factories import auth_headers, create_admin, create_user
from tests.support.factories import add_support_message, create_support_request

NOTE = "internal-note-marker: customer is on the refund watch list"


async def test_internal_notes_never_reach_the_customer(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    admin = await create_admin(session)
    request = await create_support_request(session, customer)
    await add_support_message(session, request, admin, NOTE, internal=True)
    await session.commit()
    customer_headers = auth_headers(settings, customer)

    responses = [
        await client.get(
            f"/api/support-request/{request.id}", headers=customer_headers
        ),
        await client.get(
            f"/api/support-request-messages/{request.id}", headers=customer_headers
        ),
        await client.post("/api/support-requests", json={}, headers=customer_headers),
        await client.post(
            "/api/support-requests",
            json={"search": "refund watch"},
            headers=customer_headers,
        ),
        await client.post(
            "/api/send-support-request-message",
            json={"supportRequestId": request.id, "text": "Any news?"},
            headers=customer_headers,
        ),
        await client.patch(
            "/api/support-request/status-update",
            json={"requestId": request.id, "requestStatusId": 2},
            headers=customer_headers,
        ),
    ]
    admin_thread = await client.get(
        f"/api/support-request-messages/{request.id}",
        headers=auth_headers(settings, admin),
    )

    for response in responses:
        assert response.status_code in (200, 201), response.request.url
        assert "internal-note-marker" not in response.text, response.request.url
    search = responses[3].json()
    assert search["data"] == []
    assert search["meta"]["total"] == 0
    thread = responses[1].json()["data"]
    assert all(message["internal"] is False for message in thread)
    assert NOTE in [message["text"] for message in admin_thread.json()["data"]]


async def test_customer_reply_marks_request_unread(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    request = await create_support_request(
        session, customer, status=SupportStatus.CLOSED
    )
    await session.commit()
    headers = auth_headers(settings, customer)

    reply = await client.post(
        "/api/send-support-request-message",
        json={"supportRequestId": request.id, "text": "  It happened again.  "},
        headers=headers,
    )
    current = await client.get(f"/api/support-request/{request.id}", headers=headers)

    assert reply.status_code == 201
    assert reply.json()["data"]["text"] == "It happened again."
    assert reply.json()["data"]["fromStaff"] is False
    assert current.json()["data"]["status"] == {"id": 3, "label": "Unread"}


async def test_admin_reply_keeps_status_and_audit(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    admin = await create_admin(session)
    request = await create_support_request(
        session, customer, status=SupportStatus.IN_PROGRESS
    )
    await session.commit()

    reply = await client.post(
        "/api/send-support-request-message",
        json={"supportRequestId": request.id, "text": "We are on it."},
        headers=auth_headers(settings, admin),
    )
    note = await client.post(
        "/api/send-support-request-message",
        json={"supportRequestId": request.id, "text": "Check GPU 3.", "internal": True},
        headers=auth_headers(settings, admin),
    )
    current = await client.get(
        f"/api/support-request/{request.id}", headers=auth_headers(settings, customer)
    )
    actions = (
        await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_type == "support_request")
            .order_by(AuditEntry.id)
        )
    ).all()

    assert reply.status_code == 201
    assert reply.json()["data"]["fromStaff"] is True
    assert note.status_code == 201
    assert note.json()["data"]["internal"] is True
    assert current.json()["data"]["status"]["id"] == SupportStatus.IN_PROGRESS
    assert actions == ["support_request.reply", "support_request.note"]


async def test_customer_cannot_write_internal_notes(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    request = await create_support_request(session, customer)
    await session.commit()

    response = await client.post(
        "/api/send-support-request-message",
        json={"supportRequestId": request.id, "text": "psst", "internal": True},
        headers=auth_headers(settings, customer),
    )

    assert response.status_code == 403


async def test_reply_with_nul_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    request = await create_support_request(session, customer)
    await session.commit()

    response = await client.post(
        "/api/send-support-request-message",
        json={"supportRequestId": request.id, "text": "still stuck\u0000"},
        headers=auth_headers(settings, customer),
    )

    assert response.status_code == 422
    assert "text" in response.json()["error"]["validator"]


async def test_stranger_cannot_reply_or_change_status(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    stranger = await create_user(session)
    request = await create_support_request(session, customer)
    await session.commit()
    headers = auth_headers(settings, stranger)

    reply = await client.post(
        "/api/send-support-request-message",
        json={"supportRequestId": request.id, "text": "hello"},
        headers=headers,
    )
    close = await client.patch(
        "/api/support-request/status-update",
        json={"requestId": request.id, "requestStatusId": 2},
        headers=headers,
    )

    assert reply.status_code == 404
    assert close.status_code == 404


async def test_owner_may_close_only(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    admin = await create_admin(session)
    request = await create_support_request(session, customer)
    await session.commit()
    headers = auth_headers(settings, customer)
    url = "/api/support-request/status-update"

    forbidden = [
        await client.patch(
            url,
            json={"requestId": request.id, "requestStatusId": status},
            headers=headers,
        )
        for status in (1, 3, 4, 5)
    ]
    assign = await client.patch(
        url,
        json={"requestId": request.id, "requestStatusId": 2, "assigneeId": admin.id},
        headers=headers,
    )
    close = await client.patch(
        url, json={"requestId": request.id, "requestStatusId": 2}, headers=headers
    )

    assert [response.status_code for response in forbidden] == [403, 403, 403, 403]
    assert assign.status_code == 403
    assert close.status_code == 200
    assert close.json()["data"]["status"] == {"id": 2, "label": "Closed"}


@pytest.mark.parametrize("status", [1, 2, 3, 4, 5])
async def test_admin_may_set_any_status(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, status: int
) -> None:
    customer = await create_user(session)
    admin = await create_admin(session)
    request = await create_support_request(
        session, customer, status=SupportStatus.UNREAD
    )
    await session.commit()

    response = await client.patch(
        "/api/support-request/status-update",
        json={"requestId": request.id, "requestStatusId": status},
        headers=auth_headers(settings, admin),
    )

    assert response.status_code == 200
    assert response.json()["data"]["status"]["id"] == status


async def test_admin_assignment_is_checked_and_audited(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    customer = await create_user(session)
    admin = await create_admin(session)
    colleague = await create_admin(session)
    request = await create_support_request(session, customer)
    await session.commit()
    headers = auth_headers(settings, admin)
    url = "/api/support-request/status-update"

    to_customer = await client.patch(
        url,
        json={"requestId": request.id, "requestStatusId": 5, "assigneeId": customer.id},
        headers=headers,
    )
    assigned = await client.patch(
        url,
        json={
            "requestId": request.id,
            "requestStatusId": 5,
            "assigneeId": colleague.id,
        },
        headers=headers,
    )
    kept = await client.patch(
        url, json={"requestId": request.id, "requestStatusId": 4}, headers=headers
    )
    unassigned = await client.patch(
        url,
        json={"requestId": request.id, "requestStatusId": 4, "assigneeId": None},
        headers=headers,
    )
    entries = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "support_request.update")
            .order_by(AuditEntry.id)
        )
    ).all()

    assert to_customer.status_code == 422
    assert "assigneeId" in to_customer.json()["error"]["validator"]
    assert assigned.json()["data"]["assigneeId"] == colleague.id
    assert assigned.json()["data"]["status"]["id"] == 5
    assert kept.json()["data"]["assigneeId"] == colleague.id
    assert unassigned.json()["data"]["assigneeId"] is None
    assert [entry.new_values for entry in entries] == [
        {"status_id": 5, "assignee_id": colleague.id},
        {"status_id": 4},
        {"assignee_id": None},
    ]
    assert entries[0].old_values == {"status_id": 1, "assignee_id": None}
    assert all(entry.actor_id == admin.id for entry in entries)


@pytest.mark.parametrize("status", [0, 6])
async def test_unknown_status_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, status: int
) -> None:
    customer = await create_user(session)
    admin = await create_admin(session)
    request = await create_support_request(session, customer)
    await session.commit()

    response = await client.patch(
        "/api/support-request/status-update",
        json={"requestId": request.id, "requestStatusId": status},
        headers=auth_headers(settings, admin),
    )

    assert response.status_code == 422
    assert "requestStatusId" in response.json()["error"]["validator"]
