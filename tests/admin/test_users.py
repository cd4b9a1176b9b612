"""Account administration: list and search, changes, password resets."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.jobs.models import JobStatus
from mage_studio.users.models import User
from tests.admin.factories import (
    audit_entries,
    create_chat,
    create_job,
    create_queued_job,
    create_support_request,
    fund,
)
from tests.auth.fixtures import Mailbox
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_admin, create_user

USERS = "/api/administration/users"
CHANGE = "/api/administration/change-user-data"
RESET = "/api/administration/admin-reset-user-password"
OWN_PASSWORD = "/api/administration/change-password"


@pytest.fixture
async def admin(session: AsyncSession) -> User:
    user = await create_admin(session, email="root@example.com", login="root")
    await session.commit()
    return user


@pytest.fixture
def headers(settings: Settings, admin: User) -> dict[str, str]:
    return auth_headers(settings, admin)


async def _logins(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> list[str]:
    response = await client.get(USERS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [user["login"] for user in response.json()["data"]]


# --- list and search -------------------------------------------------------------


async def test_list_users_paginates(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    for _ in range(4):
        await create_user(session)
    await session.commit()

    response = await client.get(
        USERS, params={"page": 2, "per_page": 2}, headers=headers
    )

    body = response.json()
    assert response.status_code == 200
    assert body["meta"] == {
        "current_page": 2,
        "per_page": 2,
        "total": 5,
        "last_page": 3,
    }
    assert len(body["data"]) == 2


async def test_list_users_shows_admin_fields(
    client: httpx.AsyncClient, headers: dict[str, str], admin: User
) -> None:
    response = await client.get(USERS, headers=headers)

    user = response.json()["data"][0]
    assert user["id"] == admin.id
    assert user["roles"] == ["admin", "user"]
    assert user["active"] is True
    assert user["priorityTier"] == 0
    assert user["data_stats"]["video_jobs"] == 0
    assert "password_hash" not in user
    assert "passwordHash" not in user


async def test_list_users_shows_ledger_balances(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers: dict[str, str],
) -> None:
    user = await create_user(session, login="funded")
    await fund(session, user, settings, credits=120, money=3400)
    await create_queued_job(session, user, credits=20)
    await session.commit()

    response = await client.get(USERS, params={"search": "funded"}, headers=headers)

    listed = response.json()["data"][0]
    assert listed["balance"] == 3400
    assert listed["credits"] == 100


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("%", ["per%cent"]),
        ("_", ["under_score"]),
        ("\\", ["back\\slash"]),
        ("PER", ["per%cent", "perxcent"]),
        ("score", ["under_score"]),
    ],
)
async def test_search_matches_wildcards_literally(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    search: str,
    expected: list[str],
) -> None:
    for login in ("per%cent", "under_score", "back\\slash", "plain", "perxcent"):
        await create_user(session, login=login)
    await session.commit()

    assert await _logins(client, headers, search=search) == expected


async def test_search_matches_email(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    await create_user(session, email="findme@example.org", login="someone")
    await session.commit()

    assert await _logins(client, headers, search="FINDME@") == ["someone"]


async def test_role_filter(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    await create_user(session, login="seller", roles=["seller"])
    await create_user(session, login="plain")
    await session.commit()

    assert await _logins(client, headers, role="seller") == ["seller"]
    assert await _logins(client, headers, role="admin") == ["root"]
    assert await _logins(client, headers, role="user") == ["root", "seller", "plain"]
    assert await _logins(client, headers, role="") == ["root", "seller", "plain"]


@pytest.mark.parametrize(
    "params",
    [{"role": "superuser"}, {"sort": "password"}, {"per_page": "101"}, {"page": "0"}],
)
async def test_list_users_rejects_unknown_values(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get(USERS, params=params, headers=headers)

    assert response.status_code == 422
    assert next(iter(params)) in response.json()["error"]["validator"]


async def test_data_stats_counts_content(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    app: object,
) -> None:
    user = await create_user(session)
    other = await create_user(session)
    storage = app.state.storage  # type: ignore[attr-defined]
    await create_job(session, user, storage=storage)
    await create_job(session, user, status=JobStatus.FINISHED)
    await create_job(session, other)
    await create_chat(session, user, other, messages=3)
    await create_support_request(session, user)
    await session.commit()

    response = await client.get(f"{USERS}/{user.id}/data-stats", headers=headers)

    assert response.status_code == 200
    assert response.json()["data"] == {
        "video_jobs": 2,
        "products": 0,
        "orders": 0,
        "finance_operations": 0,
        "messages": 2,
        "chats": 1,
        "support_requests": 1,
        "media": 2,
    }


async def test_data_stats_of_unknown_user_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get(f"{USERS}/999999/data-stats", headers=headers)

    assert response.status_code == 404


# --- change-user-data ------------------------------------------------------------


def _change(user: User, **fields: object) -> dict[str, object]:
    return {"id": user.id, "login": user.login, "email": user.email, **fields}


async def test_change_user_data_updates_and_audits(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    admin: User,
) -> None:
    user = await create_user(session, login="before", email="before@example.com")
    await session.commit()

    response = await client.patch(
        CHANGE,
        json=_change(
            user,
            login="  after  ",
            email="After@Example.com",
            roles=["seller"],
            active=False,
            priorityTier=2,
        ),
        headers=headers,
    )

    data = response.json()["data"]
    assert response.status_code == 200, response.text
    assert data["login"] == "after"
    assert data["email"] == "after@example.com"
    assert data["emailVerified"] is False
    assert data["roles"] == ["seller", "user"]
    assert data["active"] is False
    assert data["priorityTier"] == 2
    entries = await audit_entries(session)
    assert len(entries) == 1
    assert entries[0].actor_id == admin.id
    assert entries[0].action == "user.updated"
    assert entries[0].target_type == "user"
    assert entries[0].target_id == str(user.id)
    assert entries[0].old_values == {
        "login": "before",
        "email": "before@example.com",
        "roles": ["user"],
        "active": True,
        "priorityTier": 0,
    }
    assert entries[0].new_values == {
        "login": "after",
        "email": "after@example.com",
        "roles": ["seller", "user"],
        "active": False,
        "priorityTier": 2,
    }


async def test_disabled_user_is_signed_out(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers: dict[str, str],
) -> None:
    user = await create_user(session)
    await session.commit()
    user_headers = auth_headers(settings, user)

    await client.patch(CHANGE, json=_change(user, active=False), headers=headers)

    assert (await client.get("/api/auth/me", headers=user_headers)).status_code == 401


async def test_unchanged_data_writes_no_audit(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.patch(
        CHANGE, json=_change(user, roles=["user"], priorityTier=0), headers=headers
    )

    assert response.status_code == 200
    assert await audit_entries(session) == []


@pytest.mark.parametrize("field", ["login", "email"])
async def test_duplicate_login_or_email_is_422(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    field: str,
) -> None:
    taken = await create_user(session, login="taken", email="taken@example.com")
    user = await create_user(session)
    await session.commit()

    response = await client.patch(
        CHANGE, json=_change(user, **{field: getattr(taken, field)}), headers=headers
    )

    assert response.status_code == 422
    assert field in response.json()["error"]["validator"]
    assert await audit_entries(session) == []


@pytest.mark.parametrize(
    ("fields", "invalid"),
    [
        ({"roles": ["owner"]}, "roles.0"),
        ({"priorityTier": 3}, "priorityTier"),
        ({"priorityTier": -1}, "priorityTier"),
        ({"login": "   "}, "login"),
        ({"email": "not-an-email"}, "email"),
        ({"active": "sometimes"}, "active"),
    ],
)
async def test_change_user_data_validates(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    fields: dict[str, object],
    invalid: str,
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.patch(CHANGE, json=_change(user, **fields), headers=headers)

    assert response.status_code == 422
    assert invalid in response.json()["error"]["validator"]


async def test_change_user_data_of_unknown_user_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {"id": 999999, "login": "ghost", "email": "ghost@example.com"}

    response = await client.patch(CHANGE, json=body, headers=headers)

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("fields", "invalid"), [({"active": False}, "active"), ({"roles": []}, "roles")]
)
async def test_admin_cannot_lock_self_out(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    admin: User,
    fields: dict[str, object],
    invalid: str,
) -> None:
    response = await client.patch(
        CHANGE, json=_change(admin, **fields), headers=headers
    )

    assert response.status_code == 422
    assert invalid in response.json()["error"]["validator"]


# --- password resets and changes -------------------------------------------------


async def test_reset_password_mails_link_and_revokes_sessions(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    headers: dict[str, str],
    admin: User,
    mailbox: Mailbox,
) -> None:
    user = await create_user(session, email="forgetful@example.com")
    await session.commit()
    old_headers = auth_headers(settings, user)
    assert (await client.get("/api/auth/me", headers=old_headers)).status_code == 200

    response = await client.patch(RESET, json={"id": user.id}, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["passwordResetAdmin"] is True
    mail = await mailbox.last("forgetful@example.com")
    assert "administrator" in mail.text
    assert DEFAULT_PASSWORD not in mail.text
    assert (await client.get("/api/auth/me", headers=old_headers)).status_code == 401
    entries = await audit_entries(session)
    assert len(entries) == 1
    assert entries[0].action == "user.password_reset_sent"
    assert entries[0].actor_id == admin.id
    assert entries[0].new_values == {
        "passwordResetAdmin": True,
        "sessionsRevoked": True,
    }

    reset = await client.post(
        "/api/auth/reset-password",
        json={
            "email": "forgetful@example.com",
            "token": mail.link_param("token"),
            "password": "a brand new passphrase",
            "password_confirmation": "a brand new passphrase",
        },
    )
    assert reset.status_code == 204


async def test_reset_password_of_disabled_user_is_409(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    mailbox: Mailbox,
) -> None:
    user = await create_user(session, email="disabled@example.com")
    user.active = False
    await session.commit()

    response = await client.patch(RESET, json={"id": user.id}, headers=headers)

    assert response.status_code == 409
    assert await mailbox.to("disabled@example.com") == []
    assert await audit_entries(session) == []


async def test_reset_password_of_unknown_user_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.patch(RESET, json={"id": 424242}, headers=headers)

    assert response.status_code == 404


async def test_admin_changes_own_password(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    admin: User,
) -> None:
    body = {
        "currentPassword": DEFAULT_PASSWORD,
        "newPassword": "another long passphrase",
        "confirmNewPassword": "another long passphrase",
    }

    response = await client.patch(OWN_PASSWORD, json=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"msg": "OK"}}
    login = await client.post(
        "/api/auth/login",
        json={"email": admin.email, "password": "another long passphrase"},
    )
    assert login.status_code == 200
    entries = await audit_entries(session)
    assert len(entries) == 1
    assert entries[0].action == "user.password_changed"
    assert entries[0].target_id == str(admin.id)
    assert "another long passphrase" not in str(entries[0].new_values)
    assert entries[0].old_values is None


async def test_own_password_needs_current_one(
    client: httpx.AsyncClient, session: AsyncSession, headers: dict[str, str]
) -> None:
    body = {
        "currentPassword": "wrong password",
        "newPassword": "another long passphrase",
        "confirmNewPassword": "another long passphrase",
    }

    response = await client.patch(OWN_PASSWORD, json=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 1005
    assert await audit_entries(session) == []


async def test_own_password_must_change(
    client: httpx.AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    admin: User,
) -> None:
    body = {
        "currentPassword": DEFAULT_PASSWORD,
        "newPassword": DEFAULT_PASSWORD,
        "confirmNewPassword": DEFAULT_PASSWORD,
    }

    response = await client.patch(OWN_PASSWORD, json=body, headers=headers)

    assert response.status_code == 422
    assert list(response.json()["error"]["validator"]) == ["newPassword"]
    assert await audit_entries(session) == []
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200


async def test_own_password_needs_confirmation(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {
        "currentPassword": DEFAULT_PASSWORD,
        "newPassword": "another long passphrase",
        "confirmNewPassword": "something else entirely",
    }

    response = await client.patch(OWN_PASSWORD, json=body, headers=headers)

    assert response.status_code == 422
    assert "confirmNewPassword" in response.json()["error"]["validator"]
