"""Purging a user's content: one transaction, files removed, ledger balanced."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.accounts import user_balances
from mage_studio.billing.ledger import check_ledger
from mage_studio.billing.models import (
    FinanceOperation,
    LedgerAccount,
    LedgerEntry,
    LedgerHold,
    LedgerTransfer,
    Order,
    Product,
    UserRating,
)
from mage_studio.config import Settings
from mage_studio.core.storage import Storage
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.messaging.models import Chat, ChatMember, ChatMessage
from mage_studio.support.models import SupportMessage, SupportRequest
from mage_studio.users.models import User
from tests.admin.factories import (
    active_wallets,
    audit_entries,
    count_rows,
    create_chat,
    create_job,
    create_owned_content,
)
from tests.factories import auth_headers, create_user

PURGE = "/api/administration/users/purge-data"
LEDGER_TABLES = (LedgerAccount, LedgerTransfer, LedgerEntry, FinanceOperation, Order)


@pytest.fixture
def headers(settings: Settings, admin: User) -> dict[str, str]:
    return auth_headers(settings, admin)


@pytest.fixture
def storage(app: FastAPI) -> Storage:
    storage: Storage = app.state.storage
    return storage


async def _rows_of(session: AsyncSession, model: type, *conditions: object) -> int:
    total = await session.scalar(
        select(func.count()).select_from(model).where(*conditions)  # type: ignore[arg-type]
    )
    await session.commit()
    return int(total or 0)


async def test_purge_removes_content_and_keeps_ledger(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    storage: Storage,
    headers: dict[str, str],
    admin: User,
) -> None:
    user = await create_user(session)
    other = await create_user(session)
    content = await create_owned_content(session, user, other, settings, storage)
    kept_job = await create_job(session, other, storage=storage)
    await create_chat(session, other, admin, messages=1)
    await session.commit()
    ledger_before = {model: await count_rows(session, model) for model in LEDGER_TABLES}
    credits_before = (await user_balances(session, user.id))[1]
    await session.commit()
    for key in content.file_keys:
        assert await storage.exists(key)

    response = await client.request(
        "DELETE", PURGE, json={"id": user.id}, headers=headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"] == {
        "userId": user.id,
        "video_jobs": 3,
        "files": 4,
        "chats": 1,
        "messages": 3,
        "support_requests": 1,
        "products": 1,
        "wallets": 1,
        "ratings": 1,
    }
    for key in content.file_keys:
        assert not await storage.exists(key)
    assert kept_job.source_key is not None
    assert await storage.exists(kept_job.source_key)

    assert await _rows_of(session, VideoJob, VideoJob.user_id == user.id) == 0
    assert await _rows_of(session, VideoJob) == 1
    assert await _rows_of(session, Chat) == 1
    assert await _rows_of(session, ChatMember) == 2
    assert await _rows_of(session, ChatMessage) == 1
    assert await _rows_of(session, SupportRequest) == 0
    assert await _rows_of(session, SupportMessage) == 0
    assert await _rows_of(session, UserRating) == 0
    assert await _rows_of(session, Product, Product.deleted_at.is_(None)) == 1
    assert await active_wallets(session, user) == 0

    ledger_after = {model: await count_rows(session, model) for model in LEDGER_TABLES}
    assert ledger_after == ledger_before
    result = await check_ledger(session)
    await session.commit()
    assert result.ok, result
    # The queued render's hold went back to the user's available credits.
    assert (await user_balances(session, user.id))[1] == credits_before + 40
    await session.commit()
    assert await _rows_of(session, LedgerHold, LedgerHold.status == "held") == 1

    entries = await audit_entries(session)
    assert len(entries) == 1
    assert entries[0].action == "user.data_purged"
    assert entries[0].target_id == str(user.id)
    assert entries[0].actor_id == admin.id
    assert entries[0].old_values is not None
    assert entries[0].old_values["video_jobs"] == 3

    stats = await client.get(
        f"/api/administration/users/{user.id}/data-stats", headers=headers
    )
    assert stats.json()["data"] == {
        "video_jobs": 0,
        "products": 0,
        "orders": 2,
        "finance_operations": 1,
        "messages": 0,
        "chats": 0,
        "support_requests": 0,
        "media": 0,
    }


async def test_purge_accepts_id_in_query(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    user = await create_user(session)
    await create_job(session, user)
    await session.commit()

    response = await client.delete(PURGE, params={"id": user.id}, headers=headers)

    assert response.status_code == 200
    assert response.json()["data"]["video_jobs"] == 1


async def test_purge_of_nothing_succeeds(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.delete(PURGE, params={"id": user.id}, headers=headers)

    assert response.status_code == 200
    assert response.json()["data"]["video_jobs"] == 0
    assert len(await audit_entries(session)) == 1


async def test_purge_rejects_self(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    admin: User,
) -> None:
    await create_job(session, admin)
    await session.commit()

    response = await client.delete(PURGE, params={"id": admin.id}, headers=headers)

    assert response.status_code == 422
    assert "id" in response.json()["error"]["validator"]
    assert await _rows_of(session, VideoJob) == 1


async def test_purge_with_rendering_job_changes_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    storage: Storage,
    headers: dict[str, str],
) -> None:
    user = await create_user(session)
    other = await create_user(session)
    finished = await create_job(
        session, user, status=JobStatus.FINISHED, storage=storage
    )
    rendering = await create_job(session, user, status=JobStatus.PROCESSING)
    await create_chat(session, user, other)
    await session.commit()

    response = await client.delete(PURGE, params={"id": user.id}, headers=headers)

    assert response.status_code == 409
    assert str(rendering.id) in response.json()["error"]["message"]
    assert await _rows_of(session, VideoJob) == 2
    assert await _rows_of(session, Chat) == 1
    assert finished.source_key is not None
    assert await storage.exists(finished.source_key)
    assert await audit_entries(session) == []


@pytest.mark.parametrize(
    ("request_args", "status"),
    [
        ({}, 422),
        ({"params": {"id": 999999}}, 404),
        ({"params": {"id": "abc"}}, 422),
        ({"params": {"id": 1}, "json": {"id": 2}}, 422),
    ],
)
async def test_purge_validates_target(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    request_args: dict[str, object],
    status: int,
) -> None:
    response = await client.request(
        "DELETE",
        PURGE,
        headers=headers,
        **request_args,  # type: ignore[arg-type]
    )

    assert response.status_code == status
