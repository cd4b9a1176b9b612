"""Video jobs of every user, and the audit log."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.billing.accounts import user_balances
from mage_studio.config import Settings
from mage_studio.core.audit import record_audit
from mage_studio.core.storage import Storage
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.users.models import User
from tests.admin.factories import (
    audit_entries,
    create_job,
    create_queued_job,
    fund,
)
from tests.factories import auth_headers, create_admin, create_user

JOBS = "/api/administration/video-jobs"
AUDIT = "/api/administration/audit-log"


@pytest.fixture
async def admin(session: AsyncSession) -> User:
    user = await create_admin(session, login="boss")
    await session.commit()
    return user


@pytest.fixture
def headers(settings: Settings, admin: User) -> dict[str, str]:
    return auth_headers(settings, admin)


@pytest.fixture
def storage(app: FastAPI) -> Storage:
    storage: Storage = app.state.storage
    return storage


async def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


# --- video jobs ------------------------------------------------------------------


async def test_video_jobs_filter(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    first = await create_user(session)
    second = await create_user(session)
    pending = await create_job(session, first)
    finished = await create_job(
        session, second, status=JobStatus.FINISHED, generator="deforum"
    )
    await session.commit()

    async def listed(**params: object) -> list[int]:
        response = await client.get(JOBS, params=params, headers=headers)  # type: ignore[arg-type]
        return await _ids(response)

    assert set(await listed()) == {pending.id, finished.id}
    assert await listed(userId=first.id) == [pending.id]
    assert await listed(status="finished") == [finished.id]
    assert await listed(generator="deforum") == [finished.id]
    assert await listed(generator="vid2vid", status="finished") == []


async def test_video_jobs_show_every_column(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    user = await create_user(session)
    job = await create_job(session, user)
    await session.commit()

    response = await client.get(JOBS, headers=headers)

    item = response.json()["data"][0]
    assert item["id"] == job.id
    assert item["user_id"] == user.id
    assert item["status"] == "pending"
    assert item["prompt"] == "a cat"
    assert response.json()["meta"]["total"] == 1


@pytest.mark.parametrize(
    "params", [{"status": "sleeping"}, {"generator": "gan"}, {"user": "1"}]
)
async def test_video_jobs_reject_unknown_values(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get(JOBS, params=params, headers=headers)

    assert response.status_code == 422


async def test_cancel_queued_job_releases_credits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers: dict[str, str],
    admin: User,
) -> None:
    user = await create_user(session)
    await fund(session, user, settings, credits=100)
    job = await create_queued_job(session, user, credits=30)
    await session.commit()
    assert (await user_balances(session, user.id))[1] == 70
    await session.commit()

    response = await client.post(f"{JOBS}/{job.id}/cancel", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "cancelled"
    assert (await user_balances(session, user.id))[1] == 100
    await session.commit()
    entries = await audit_entries(session)
    assert len(entries) == 1
    assert entries[0].action == "video_job.cancelled"
    assert entries[0].actor_id == admin.id
    assert entries[0].target_type == "video_job"
    assert entries[0].old_values == {"status": "approved", "cancel_requested": False}
    assert entries[0].new_values == {"status": "cancelled", "cancel_requested": False}


async def test_cancel_rendering_job_requests_stop_once(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    user = await create_user(session)
    job = await create_job(session, user, status=JobStatus.PROCESSING)
    await session.commit()

    first = await client.post(f"{JOBS}/{job.id}/cancel", headers=headers)
    second = await client.post(f"{JOBS}/{job.id}/cancel", headers=headers)

    assert first.status_code == 200
    assert first.json()["data"]["status"] == "processing"
    assert second.status_code == 200
    entries = await audit_entries(session)
    assert len(entries) == 1
    assert entries[0].new_values == {"status": "processing", "cancel_requested": True}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(JobStatus.FINISHED, 409), (JobStatus.CANCELLED, 409)],
)
async def test_cancel_final_job_is_409(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    status: JobStatus,
    expected: int,
) -> None:
    user = await create_user(session)
    job = await create_job(session, user, status=status)
    await session.commit()

    response = await client.post(f"{JOBS}/{job.id}/cancel", headers=headers)

    assert response.status_code == expected
    assert await audit_entries(session) == []


async def test_delete_job_removes_files_and_audits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    storage: Storage,
    headers: dict[str, str],
) -> None:
    user = await create_user(session)
    job = await create_job(session, user, status=JobStatus.FINISHED, storage=storage)
    await session.commit()
    keys = [job.source_key, job.thumbnail_key]

    response = await client.delete(f"{JOBS}/{job.id}", headers=headers)

    assert response.status_code == 204
    assert await session.get(VideoJob, job.id, populate_existing=True) is None
    await session.commit()
    for key in keys:
        assert key is not None
        assert not await storage.exists(key)
    entries = await audit_entries(session)
    assert len(entries) == 1
    assert entries[0].action == "video_job.deleted"
    assert entries[0].old_values is not None
    assert entries[0].old_values["user_id"] == user.id
    assert entries[0].new_values is None


async def test_delete_rendering_job_is_409(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    user = await create_user(session)
    job = await create_job(session, user, status=JobStatus.PROCESSING)
    await session.commit()

    response = await client.delete(f"{JOBS}/{job.id}", headers=headers)

    assert response.status_code == 409
    assert await audit_entries(session) == []


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_unknown_job_is_404(
    client: httpx.AsyncClient, headers: dict[str, str], method: str
) -> None:
    path = f"{JOBS}/999999/cancel" if method == "POST" else f"{JOBS}/999999"

    response = await client.request(method, path, headers=headers)

    assert response.status_code == 404


# --- audit log -------------------------------------------------------------------


async def test_audit_log_lists_and_filters(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    admin: User,
) -> None:
    other_admin = await create_admin(session)
    first = await record_audit(
        session, admin, "user.updated", "user", 7, {"login": "a"}, {"login": "b"}
    )
    second = await record_audit(
        session, other_admin, "order.status_changed", "order", 3, None, None
    )
    system = await record_audit(session, None, "user.updated", "user", 8, None, None)
    await session.commit()

    async def listed(**params: object) -> list[int]:
        response = await client.get(AUDIT, params=params, headers=headers)  # type: ignore[arg-type]
        return await _ids(response)

    assert await listed() == [system.id, second.id, first.id]
    assert await listed(actor=admin.id) == [first.id]
    assert await listed(action="user.updated") == [system.id, first.id]
    assert await listed(target_type="order") == [second.id]
    assert await listed(target_type="user", target_id="7") == [first.id]
    assert await listed(action="user") == []

    response = await client.get(AUDIT, params={"actor": admin.id}, headers=headers)
    entry = response.json()["data"][0]
    assert entry["actor"] == {"id": admin.id, "login": "boss"}
    assert entry["actorId"] == admin.id
    assert entry["targetType"] == "user"
    assert entry["targetId"] == "7"
    assert entry["oldValues"] == {"login": "a"}
    assert entry["newValues"] == {"login": "b"}
    assert "createdAt" in entry


async def test_audit_log_rejects_unknown_filters(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(AUDIT, params={"orderType": "id"}, headers=headers)

    assert response.status_code == 422
