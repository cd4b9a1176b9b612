"""Password hashing, legacy bcrypt logins, login failures and password change."""

from __future__ import annotations

import bcrypt
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.passwords import hash_password, verify_password
from mage_studio.users.models import User
from tests.auth.factories import PASSWORD, bearer, login, register
from tests.factories import create_user


def _php_bcrypt(password: bytes) -> str:
    """A hash as PHP's password_hash(PASSWORD_BCRYPT) writes it: `$2y$10$...`."""
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=10)).decode()
    return "$2y$" + hashed[4:]


def test_new_hashes_are_argon2id() -> None:
    assert hash_password(PASSWORD).startswith("$argon2id$")


def test_bcrypt_uses_first_72_bytes() -> None:
    # 71 ASCII bytes, then a 2-byte character cut in the middle by the limit.
    password = "a" * 71 + "é" + "tail that bcrypt never saw"
    hashed = _php_bcrypt(password.encode()[:72])

    valid, new_hash = verify_password(password, hashed)

    assert valid is True
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$")
    assert verify_password(password, new_hash)[0] is True


def test_damaged_hash_matches_nothing() -> None:
    assert verify_password(PASSWORD, "$2y$10$broken") == (False, None)
    assert verify_password(PASSWORD, "plain-text") == (False, None)
    assert verify_password(PASSWORD, None) == (False, None)


async def test_legacy_2y_hash_logs_in_and_is_rehashed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session, password_hash=_php_bcrypt(PASSWORD.encode()))
    await session.commit()
    assert user.password_hash is not None
    assert user.password_hash.startswith("$2y$10$")

    await login(client, user.email)

    await session.refresh(user)
    await session.commit()
    assert user.password_hash.startswith("$argon2id$")
    # The new hash works for the next login.
    await login(client, user.email)


async def test_wrong_password_and_unknown_email_answer_alike(
    client: httpx.AsyncClient,
) -> None:
    _, email = await register(client)

    wrong = await client.post(
        "/api/auth/login", json={"email": email, "password": "not the password"}
    )
    unknown = await client.post(
        "/api/auth/login",
        json={"email": "nobody@example.com", "password": "not the password"},
    )

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["message"] == "Invalid email or password"


async def test_social_only_account_has_no_password_login(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = User(email="social@example.com", login="social@example.com")
    session.add(user)
    await session.commit()
    response = await client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 401


async def test_disabled_account_cannot_log_in(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user = await create_user(session)
    user.active = False
    await session.commit()
    response = await client.post(
        "/api/auth/login",
        json={"email": user.email, "password": "correct horse battery"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register"])
async def test_huge_password_is_422(client: httpx.AsyncClient, path: str) -> None:
    huge = "x" * 100_000
    body = {
        "email": "huge@example.com",
        "password": huge,
        "password_confirmation": huge,
    }

    response = await client.post(path, json=body)

    assert response.status_code == 422
    assert "password" in response.json()["error"]["validator"]


async def test_change_password_rejects_wrong_current(
    client: httpx.AsyncClient,
) -> None:
    _, email = await register(client)
    tokens = await login(client, email)

    response = await client.post(
        "/api/auth/change-password",
        headers=bearer(tokens["accessToken"]),
        json={
            "currentPassword": "wrong password",
            "newPassword": "another passphrase",
            "confirmNewPassword": "another passphrase",
        },
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 1005
    await login(client, email)


@pytest.mark.parametrize(
    ("new", "confirm", "field"),
    [
        ("short", "short", "newPassword"),
        ("long enough one", "does not match", "confirmNewPassword"),
        (PASSWORD, PASSWORD, "newPassword"),
    ],
)
async def test_change_password_validates_new(
    client: httpx.AsyncClient, new: str, confirm: str, field: str
) -> None:
    _, email = await register(client)
    tokens = await login(client, email)

    response = await client.post(
        "/api/auth/change-password",
        headers=bearer(tokens["accessToken"]),
        json={
            "currentPassword": PASSWORD,
            "newPassword": new,
            "confirmNewPassword": confirm,
        },
    )

    assert response.status_code == 422
    assert field in response.json()["error"]["validator"]


async def test_change_password_needs_auth(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/change-password",
        json={
            "currentPassword": PASSWORD,
            "newPassword": "another passphrase",
            "confirmNewPassword": "another passphrase",
        },
    )
    assert response.status_code == 401


async def test_password_spaces_are_kept(client: httpx.AsyncClient) -> None:
    spaced = "  padded passphrase  "
    _, email = await register(client, password=spaced)

    trimmed = await client.post(
        "/api/auth/login", json={"email": email, "password": spaced.strip()}
    )

    assert trimmed.status_code == 401
    await login(client, email, spaced)
