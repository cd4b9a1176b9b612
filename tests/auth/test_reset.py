"""Forgot-password and reset-password: tokens that work exactly once."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.models import PasswordResetToken
from mage_studio.auth.reset import send_password_reset
from mage_studio.auth.sessions import hash_token
from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.core.routing import commit_and_run_callbacks
from mage_studio.users.models import User
from tests.auth.factories import PASSWORD, bearer, login, register
from tests.auth.fixtures import Mailbox

NEW_PASSWORD = "a fresh passphrase"


async def _forgot(
    client: httpx.AsyncClient, email: str, **extra: str
) -> httpx.Response:
    return await client.post(
        "/api/auth/forgot-password", json={"email": email, **extra}
    )


async def _reset(
    client: httpx.AsyncClient, email: str, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/api/auth/reset-password",
        json={
            "email": email,
            "token": token,
            "password": password,
            "password_confirmation": password,
        },
    )


async def _reset_token(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> str:
    assert (await _forgot(client, email)).status_code == 204
    return (await mailbox.last(email)).link_param("token")


async def test_unknown_email_answers_identically(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, email = await register(client)
    registration_mails = len(await mailbox.all())

    known = await _forgot(client, email)
    unknown = await _forgot(client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 204
    assert known.content == unknown.content == b""
    assert set(known.headers) - {"x-request-id"} == set(unknown.headers) - {
        "x-request-id"
    }
    mails = await mailbox.all()
    assert len(mails) == registration_mails + 1
    assert mails[-1].to == [email]


async def test_reset_sets_password_and_revokes_sessions(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, email = await register(client)
    session_before = await login(client, email)
    token = await _reset_token(client, mailbox, email)

    response = await _reset(client, email, token)

    assert response.status_code == 204
    me = await client.get("/api/auth/me", headers=bearer(session_before["accessToken"]))
    assert me.status_code == 401
    refresh = await client.post(
        "/api/auth/refresh", json={"refreshToken": session_before["refreshToken"]}
    )
    assert refresh.status_code == 401
    await login(client, email, NEW_PASSWORD)
    old = await client.post(
        "/api/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert old.status_code == 401


async def test_token_is_single_use(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    _, email = await register(client)
    token = await _reset_token(client, mailbox, email)
    assert (await _reset(client, email, token)).status_code == 204

    again = await _reset(client, email, token, "yet another passphrase")

    assert again.status_code == 400
    assert again.json()["error"]["code"] == 1004


async def test_expired_token_is_rejected(
    client: httpx.AsyncClient, mailbox: Mailbox, session: AsyncSession
) -> None:
    _, email = await register(client)
    token = await _reset_token(client, mailbox, email)
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.token_hash == hash_token(token))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()

    response = await _reset(client, email, token)

    assert response.json()["error"]["code"] == 1004


async def test_token_expires_after_60_minutes(
    client: httpx.AsyncClient, mailbox: Mailbox, session: AsyncSession
) -> None:
    _, email = await register(client)
    await _reset_token(client, mailbox, email)
    row = await session.scalar(select(PasswordResetToken))
    assert row is not None
    lifetime = row.expires_at - row.created_at
    assert timedelta(minutes=59) < lifetime <= timedelta(minutes=60)


async def test_other_users_token_is_rejected(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, mine = await register(client)
    _, theirs = await register(client)
    their_token = await _reset_token(client, mailbox, theirs)

    response = await _reset(client, mine, their_token)

    assert response.json()["error"]["code"] == 1004
    await login(client, mine)
    await login(client, theirs)


async def test_token_dies_when_password_changes(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, email = await register(client)
    token = await _reset_token(client, mailbox, email)
    tokens = await login(client, email)
    await client.post(
        "/api/auth/change-password",
        headers=bearer(tokens["accessToken"]),
        json={
            "currentPassword": PASSWORD,
            "newPassword": "changed passphrase",
            "confirmNewPassword": "changed passphrase",
        },
    )

    response = await _reset(client, email, token)

    assert response.json()["error"]["code"] == 1004


async def test_second_token_dies_after_first_reset(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, email = await register(client)
    first = await _reset_token(client, mailbox, email)
    second = await _reset_token(client, mailbox, email)

    assert (await _reset(client, email, second)).status_code == 204
    assert (await _reset(client, email, first)).json()["error"]["code"] == 1004


async def test_made_up_token_is_rejected(client: httpx.AsyncClient) -> None:
    _, email = await register(client)
    response = await _reset(client, email, "made-up")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 1004


async def test_token_stored_hashed(
    client: httpx.AsyncClient, mailbox: Mailbox, session: AsyncSession
) -> None:
    _, email = await register(client)
    token = await _reset_token(client, mailbox, email)
    stored = list(await session.scalars(select(PasswordResetToken.token_hash)))
    assert stored == [hash_token(token)]


async def test_redirect_url_on_allowed_origin(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, email = await register(client)

    response = await _forgot(
        client, email, redirect_url="http://localhost:3000/account/reset?lang=de"
    )

    assert response.status_code == 204
    mail = await mailbox.last(email)
    assert "http://localhost:3000/account/reset?lang=de&token=" in mail.text


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/reset",
        "http://localhost:3001/reset",
        "https://localhost:3000/reset",
        "http://localhost:3000.evil.example/reset",
        "javascript:alert(1)",
        "//evil.example/reset",
        "not a url",
    ],
)
async def test_redirect_url_off_list_is_422(
    client: httpx.AsyncClient, mailbox: Mailbox, url: str
) -> None:
    _, email = await register(client)
    before = len(await mailbox.all())

    response = await _forgot(client, email, redirect_url=url)

    assert response.status_code == 422
    assert "redirect_url" in response.json()["error"]["validator"]
    assert len(await mailbox.all()) == before


async def test_reset_clears_admin_flag(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    session: AsyncSession,
    settings: Settings,
) -> None:
    user_id, email = await register(client)
    tokens = await login(client, email)
    user = await session.get(User, user_id)
    assert user is not None

    await send_password_reset(session, settings, user, by_admin=True)
    await commit_and_run_callbacks(session)

    assert user.password_reset_admin is True
    me = await client.get("/api/auth/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 401
    mail = await mailbox.last(email)
    assert "administrator" in mail.text
    assert PASSWORD not in mail.text
    assert (await _reset(client, email, mail.link_param("token"))).status_code == 204
    await session.refresh(user)
    assert user.password_reset_admin is False
