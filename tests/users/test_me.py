"""The caller's own account: reading it and changing login, email, mail consent."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.config import Settings
from mage_studio.users import service as users
from mage_studio.users.models import Role, User
from tests.auth.factories import V1, V2_AUTH, V2_SHORT, bearer, login, register, verify
from tests.auth.fixtures import Mailbox
from tests.factories import auth_headers, create_admin, create_user

USER_KEYS = {
    "id",
    "email",
    "login",
    "profile_image",
    "online",
    "confirmSendEmail",
    "balance",
    "credits",
    "roles",
    "emailVerified",
    "passwordResetAdmin",
    "google_id",
    "discord_id",
    "createdAt",
}


@pytest.mark.parametrize("paths", [V1, V2_SHORT, V2_AUTH], ids=["v1", "v2", "v2-auth"])
async def test_read_me(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    paths: dict[str, str],
) -> None:
    user = await create_admin(session, login="boss")
    await session.commit()

    response = await client.get(paths["me"], headers=auth_headers(settings, user))

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == USER_KEYS
    assert data["login"] == "boss"
    assert data["roles"] == ["admin", "user"]
    assert data["emailVerified"] is True
    assert data["passwordResetAdmin"] is False
    assert data["createdAt"].endswith(("Z", "+00:00"))


async def test_patch_me_changes_login_and_consent(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.patch(
        "/api/v2/me",
        headers=auth_headers(settings, user),
        json={"login": "  new-name  ", "confirmSendEmail": False},
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["login"] == "new-name"
    assert data["confirmSendEmail"] is False
    assert data["email"] == user.email


async def test_patch_me_ignores_mass_assignment(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.patch(
        "/api/auth/me",
        headers=auth_headers(settings, user),
        json={
            "roles": ["admin"],
            "balance": 1_000_000,
            "credits": 1_000_000,
            "passwordResetAdmin": True,
            "emailVerified": False,
            "id": 12345,
            "password_hash": "$2y$10$abc",
        },
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["roles"] == ["user"]
    assert data["balance"] == 0
    assert data["credits"] == 0
    assert data["id"] == user.id
    assert data["emailVerified"] is True
    await session.refresh(user)
    assert user.password_hash != "$2y$10$abc"
    assert user.has_role(Role.ADMIN) is False


async def test_email_change_needs_verification(
    client: httpx.AsyncClient, mailbox: Mailbox, session: AsyncSession
) -> None:
    user_id, email = await register(client)
    await verify(client, mailbox, email)
    tokens = await login(client, email)
    new_email = "Moved@Example.com"

    response = await client.patch(
        "/api/auth/me", headers=bearer(tokens["accessToken"]), json={"email": new_email}
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["email"] == "moved@example.com"
    assert data["emailVerified"] is False
    mail = await mailbox.last("moved@example.com")
    assert int(mail.link_param("id")) == user_id
    # The old address's link no longer verifies anything.
    old_link = (await mailbox.to(email))[0]
    stale = await client.post(
        "/api/auth/verified-email",
        json={"id": user_id, "hash": old_link.link_param("hash")},
    )
    assert stale.json()["error"]["code"] == 1007
    await verify(client, mailbox, "moved@example.com")
    me = await client.get("/api/auth/me", headers=bearer(tokens["accessToken"]))
    assert me.json()["data"]["emailVerified"] is True


async def test_same_email_keeps_verification(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    session: AsyncSession,
    settings: Settings,
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.patch(
        "/api/auth/me",
        headers=auth_headers(settings, user),
        json={"email": user.email.upper()},
    )

    assert response.json()["data"]["emailVerified"] is True
    assert await mailbox.all() == []


@pytest.mark.parametrize("field", ["email", "login"])
async def test_patch_me_rejects_taken_values(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, field: str
) -> None:
    other = await create_user(session, login="taken-name")
    user = await create_user(session)
    await session.commit()
    value = other.email.upper() if field == "email" else other.login

    response = await client.patch(
        "/api/auth/me", headers=auth_headers(settings, user), json={field: value}
    )

    assert response.status_code == 422
    assert field in response.json()["error"]["validator"]


async def test_patch_me_rejects_lookalike_login(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await create_user(session, login="Painter")
    user = await create_user(session, login="artist")
    await session.commit()
    headers = auth_headers(settings, user)

    lookalike = await client.patch(
        "/api/auth/me",
        headers=headers,
        json={"login": "\uff50\uff41\uff49\uff4e\uff54\uff45\uff52"},
    )
    own_case = await client.patch(
        "/api/auth/me", headers=headers, json={"login": "Artist"}
    )

    assert lookalike.status_code == 422
    assert list(lookalike.json()["error"]["validator"]) == ["login"]
    assert own_case.status_code == 200
    assert own_case.json()["data"]["login"] == "Artist"


@pytest.mark.parametrize("field", ["login", "email"])
async def test_patch_me_racing_taken_value(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
) -> None:
    other = await create_user(session, login="taken-name")
    user = await create_user(session)
    await session.commit()
    value = other.email if field == "email" else other.login
    check_name = f"ensure_{field}_free"
    check = getattr(users, check_name)
    calls = 0

    async def miss_first_check(
        session: AsyncSession, value: str, *, except_user: int | None = None
    ) -> None:
        # The first check runs as if the other account had not committed yet.
        nonlocal calls
        calls += 1
        if calls > 1:
            await check(session, value, except_user=except_user)

    monkeypatch.setattr(users, check_name, miss_first_check)

    response = await client.patch(
        "/api/auth/me", headers=auth_headers(settings, user), json={field: value}
    )

    assert response.status_code == 422
    assert list(response.json()["error"]["validator"]) == [field]
    assert calls == 2


async def test_patch_me_empty_strings_change_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session, login="keeps")
    await session.commit()

    response = await client.patch(
        "/api/auth/me",
        headers=auth_headers(settings, user),
        json={"email": "", "login": ""},
    )

    assert response.status_code == 200
    assert response.json()["data"]["login"] == "keeps"
    assert response.json()["data"]["email"] == user.email


async def test_me_needs_auth(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v2/me")).status_code == 401
    assert (await client.patch("/api/v2/me", json={})).status_code == 401


async def test_social_user_without_password_reads_me(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = User(email="nopass@example.com", login="nopass")
    user.set_roles([Role.USER.value])
    session.add(user)
    await session.commit()

    response = await client.get("/api/auth/me", headers=auth_headers(settings, user))

    assert response.status_code == 200
    assert response.json()["data"]["emailVerified"] is False
