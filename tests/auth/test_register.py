"""Registration rules and email verification."""

from __future__ import annotations

import hashlib
import time

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.tokens import sign_purpose_token
from mage_studio.config import Settings
from mage_studio.users import service as users
from mage_studio.users.models import User
from tests.auth.factories import PASSWORD, bearer, login, new_email, register, verify
from tests.auth.fixtures import Mailbox


def _body(email: str, **extra: object) -> dict[str, object]:
    return {
        "email": email,
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        **extra,
    }


async def test_register_without_license(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user_id, _ = await register(client)
    user = await session.get(User, user_id)
    assert user is not None
    assert user.license_accepted is False


async def test_register_with_license_and_login(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user_id, _ = await register(client, license=True, login="  painter  ")
    user = await session.get(User, user_id)
    assert user is not None
    assert user.license_accepted is True
    assert user.login == "painter"


async def test_register_ignores_mass_assignment(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user_id, _ = await register(
        client,
        roles=["admin"],
        role="admin",
        balance=10_000,
        credits=10_000,
        emailVerified=True,
        email_verified_at="2020-01-01T00:00:00Z",
        active=False,
        id=999,
    )
    user = await session.get(User, user_id)
    assert user is not None
    assert user.id != 999
    assert user.roles == ["user"]
    assert user.email_verified_at is None
    assert user.active is True


async def test_email_is_unique_ignoring_case(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register(client, email)

    response = await client.post(
        "/api/auth/register", json=_body("  " + email.upper() + " ")
    )

    assert response.status_code == 422
    assert response.json()["error"]["validator"] == {
        "email": ["The email has already been taken."]
    }


async def test_login_is_unique(client: httpx.AsyncClient) -> None:
    await register(client, login="painter")
    response = await client.post(
        "/api/auth/register", json=_body(new_email(), login="painter")
    )
    assert response.status_code == 422
    assert "login" in response.json()["error"]["validator"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Painter", "painter"),
        ("Login", "\uff2c\uff4f\uff47\uff49\uff4e"),
        ("Straße", "STRASSE"),
    ],
    ids=["case", "full-width", "case-fold"],
)
async def test_lookalike_login_is_taken(
    client: httpx.AsyncClient, session: AsyncSession, first: str, second: str
) -> None:
    user_id, _ = await register(client, login=first)
    response = await client.post(
        "/api/auth/register", json=_body(new_email(), login=second)
    )

    assert response.status_code == 422
    assert list(response.json()["error"]["validator"]) == ["login"]
    user = await session.get(User, user_id)
    assert user is not None
    assert user.login == first


async def test_racing_taken_login_names_login(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(client, login="painter")
    ensure_login_free = users.ensure_login_free
    calls = 0

    async def miss_first_check(
        session: AsyncSession, login: str, *, except_user: int | None = None
    ) -> None:
        # The first check runs as if the other account had not committed yet.
        nonlocal calls
        calls += 1
        if calls > 1:
            await ensure_login_free(session, login, except_user=except_user)

    monkeypatch.setattr(users, "ensure_login_free", miss_first_check)

    response = await client.post(
        "/api/auth/register", json=_body(new_email(), login="painter")
    )

    assert response.status_code == 422
    assert list(response.json()["error"]["validator"]) == ["login"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"password": "short", "password_confirmation": "short"}, "password"),
        ({"password_confirmation": "something else"}, "password_confirmation"),
        ({"password_confirmation": None}, "password_confirmation"),
        ({"license": "maybe"}, "license"),
    ],
)
async def test_register_validation(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    body = {**_body(new_email()), **change}
    if body.get("password_confirmation") is None:
        body.pop("password_confirmation")

    response = await client.post("/api/auth/register", json=body)

    assert response.status_code == 422
    assert field in response.json()["error"]["validator"]


async def test_empty_login_means_email(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user_id, email = await register(client, login="   ")
    user = await session.get(User, user_id)
    assert user is not None
    assert user.login == email


async def test_verification_twice_is_1001(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user_id, email = await register(client)
    await verify(client, mailbox, email)
    mail = await mailbox.last(email)

    again = await client.post(
        "/api/auth/verified-email",
        json={"id": user_id, "hash": mail.link_param("hash")},
    )

    assert again.status_code == 400
    assert again.json()["error"]["code"] == 1001


async def test_old_style_email_hash_is_1007(client: httpx.AsyncClient) -> None:
    user_id, email = await register(client)
    forged = hashlib.sha1(email.encode()).hexdigest()  # noqa: S324

    response = await client.post(
        "/api/auth/verified-email", json={"id": user_id, "hash": forged}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 1007


async def test_other_users_link_is_1007(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    mine, _ = await register(client)
    _, theirs = await register(client)
    their_hash = (await mailbox.last(theirs)).link_param("hash")

    response = await client.post(
        "/api/auth/verified-email", json={"id": mine, "hash": their_hash}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 1007


async def test_expired_link_is_1007(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user_id, email = await register(client)
    now = int(time.time())
    expired = jwt.encode(
        {
            "iss": settings.jwt_issuer,
            "aud": f"{settings.jwt_audience}/verify-email",
            "sub": str(user_id),
            "typ": "verify-email",
            "email": email,
            "iat": now - 7200,
            "exp": now - 3600,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )

    response = await client.post(
        "/api/auth/verified-email", json={"id": user_id, "hash": expired}
    )

    assert response.json()["error"]["code"] == 1007


async def test_link_for_previous_address_is_1007(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user_id, _ = await register(client)
    stale = sign_purpose_token(
        settings, "verify-email", str(user_id), 600, {"email": "old@example.com"}
    )
    response = await client.post(
        "/api/auth/verified-email", json={"id": user_id, "hash": stale}
    )
    assert response.json()["error"]["code"] == 1007


async def test_access_token_is_not_a_verification_link(
    client: httpx.AsyncClient,
) -> None:
    user_id, email = await register(client)
    tokens = await login(client, email)
    response = await client.post(
        "/api/auth/verified-email", json={"id": user_id, "hash": tokens["accessToken"]}
    )
    assert response.json()["error"]["code"] == 1007


async def test_resend_verification(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    _, email = await register(client)
    tokens = await login(client, email)

    response = await client.post(
        "/api/auth/verification-email", headers=bearer(tokens["accessToken"])
    )

    assert response.status_code == 204
    assert len(await mailbox.to(email)) == 2
    await verify(client, mailbox, email)
    again = await client.post(
        "/api/auth/verification-email", headers=bearer(tokens["accessToken"])
    )
    assert again.json()["error"]["code"] == 1001
