"""Refresh rotation, reuse detection, logout and revoking all sessions."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth.models import RefreshToken, TokenRevocation
from mage_studio.auth.sessions import hash_token, revoke_all_sessions
from mage_studio.auth.tokens import create_access_token
from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.users.models import User
from tests.auth.factories import PASSWORD, bearer, login, register
from tests.auth.fixtures import client_for
from tests.conftest import make_settings


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refreshToken": token})


async def _me(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/api/auth/me", headers=bearer(token))).status_code


async def test_refresh_rotates_and_spends(client: httpx.AsyncClient) -> None:
    _, email = await register(client)
    first = await login(client, email)

    second = (await _refresh(client, first["refreshToken"])).json()["data"]
    third = (await _refresh(client, second["refreshToken"])).json()["data"]

    assert (
        len({first["refreshToken"], second["refreshToken"], third["refreshToken"]}) == 3
    )
    assert await _me(client, third["accessToken"]) == 200


async def test_refresh_reuse_revokes_family(client: httpx.AsyncClient) -> None:
    _, email = await register(client)
    stolen = await login(client, email)
    legit = (await _refresh(client, stolen["refreshToken"])).json()["data"]

    replay = await _refresh(client, stolen["refreshToken"])

    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]["message"]
    # Everything of the family is dead: the newest refresh and access tokens too.
    assert (await _refresh(client, legit["refreshToken"])).status_code == 401
    assert await _me(client, legit["accessToken"]) == 401
    assert await _me(client, stolen["accessToken"]) == 401


async def test_reuse_leaves_other_sessions(client: httpx.AsyncClient) -> None:
    _, email = await register(client)
    phone = await login(client, email)
    laptop = await login(client, email)
    await _refresh(client, phone["refreshToken"])

    assert (await _refresh(client, phone["refreshToken"])).status_code == 401

    assert await _me(client, laptop["accessToken"]) == 200
    assert (await _refresh(client, laptop["refreshToken"])).status_code == 200


async def test_refresh_rejects_unknown_and_expired(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, email = await register(client)
    tokens = await login(client, email)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == hash_token(tokens["refreshToken"]))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()

    assert (await _refresh(client, tokens["refreshToken"])).status_code == 401
    assert (await _refresh(client, "made-up-token")).status_code == 401
    assert (await _refresh(client, tokens["accessToken"])).status_code == 401


async def test_refresh_token_is_stored_hashed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, email = await register(client)
    tokens = await login(client, email)
    stored = list(await session.scalars(select(RefreshToken.token_hash)))
    assert stored == [hash_token(tokens["refreshToken"])]


async def test_logout_leaves_other_sessions(client: httpx.AsyncClient) -> None:
    _, email = await register(client)
    phone = await login(client, email)
    laptop = await login(client, email)

    await client.post("/api/auth/logout", headers=bearer(phone["accessToken"]))

    assert await _me(client, phone["accessToken"]) == 401
    assert await _me(client, laptop["accessToken"]) == 200


async def test_logout_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/auth/logout")).status_code == 401


async def test_change_password_revokes_other_sessions(
    client: httpx.AsyncClient,
) -> None:
    _, email = await register(client)
    current = await login(client, email)
    other = await login(client, email)
    new_password = "brand new passphrase"

    response = await client.post(
        "/api/auth/change-password",
        headers=bearer(current["accessToken"]),
        json={
            "currentPassword": PASSWORD,
            "newPassword": new_password,
            "confirmNewPassword": new_password,
        },
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"msg": "OK"}}
    assert await _me(client, other["accessToken"]) == 401
    assert (await _refresh(client, other["refreshToken"])).status_code == 401
    # The session that changed the password continues, through refreshes too.
    assert await _me(client, current["accessToken"]) == 200
    renewed = await _refresh(client, current["refreshToken"])
    assert renewed.status_code == 200
    assert await _me(client, renewed.json()["data"]["accessToken"]) == 200
    # A login right after the change works; the old password does not.
    fresh = await login(client, email, new_password)
    assert await _me(client, fresh["accessToken"]) == 200
    old = await client.post(
        "/api/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert old.status_code == 401


async def test_revoke_all_is_exact_within_one_second(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user_id, email = await register(client)
    before = await login(client, email)
    user = await session.get(User, user_id)
    assert user is not None

    await revoke_all_sessions(session, user)
    await session.commit()
    after = create_access_token(settings, user.id, version=user.token_version)

    # Both tokens are very likely issued within the same second: versions decide.
    assert await _me(client, before["accessToken"]) == 401
    assert (await _refresh(client, before["refreshToken"])).status_code == 401
    assert await _me(client, after.token) == 200


async def test_tokens_valid_after_rejects_older_seconds(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user_id, _ = await register(client)
    user = await session.get(User, user_id)
    assert user is not None
    older = create_access_token(settings, user_id, now=utcnow() - timedelta(seconds=5))
    user.tokens_valid_after = utcnow()
    await session.commit()
    newer = create_access_token(settings, user_id)

    assert await _me(client, older.token) == 401
    assert await _me(client, newer.token) == 200


async def test_second_revoke_ends_the_kept_session(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    user_id, email = await register(client)
    current = await login(client, email)
    new_password = "brand new passphrase"
    await client.post(
        "/api/auth/change-password",
        headers=bearer(current["accessToken"]),
        json={
            "currentPassword": PASSWORD,
            "newPassword": new_password,
            "confirmNewPassword": new_password,
        },
    )
    user = await session.get(User, user_id)
    assert user is not None

    await revoke_all_sessions(session, user)
    await session.commit()

    assert await _me(client, current["accessToken"]) == 401
    assert (await _refresh(client, current["refreshToken"])).status_code == 401


async def test_logout_writes_revocations_to_database(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, email = await register(client)
    tokens = await login(client, email)
    await client.post("/api/auth/logout", headers=bearer(tokens["accessToken"]))

    keys = list(await session.scalars(select(TokenRevocation.key)))
    assert len([key for key in keys if key.startswith("jti:")]) == 1
    assert len([key for key in keys if key.startswith("family:")]) == 1


async def test_pruner_deletes_expired_rows(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, email = await register(client)
    tokens = await login(client, email)
    await client.post("/api/auth/logout", headers=bearer(tokens["accessToken"]))
    await session.execute(
        update(TokenRevocation).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.execute(
        update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    from mage_studio.auth.hooks import TokenPruner

    counts = await TokenPruner(app.state.database).prune()

    assert counts["token_revocations"] == 2
    assert counts["refresh_tokens"] == 1


async def test_redis_revocation_store(
    database_url: str, storage_root: object, redis_url: str, session: AsyncSession
) -> None:
    from pathlib import Path

    from mage_studio.app import create_app

    assert isinstance(storage_root, Path)
    settings = make_settings(database_url, storage_root, redis_url=redis_url)
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            _, email = await register(client)
            first = await login(client, email)
            second = await login(client, email)
            await client.post("/api/auth/logout", headers=bearer(first["accessToken"]))

            assert await _me(client, first["accessToken"]) == 401
            assert await _me(client, second["accessToken"]) == 200
            # Reuse detection revokes the family in Redis as well.
            renewed = (await _refresh(client, second["refreshToken"])).json()["data"]
            assert (await _refresh(client, second["refreshToken"])).status_code == 401
            assert await _me(client, renewed["accessToken"]) == 401
        keys = list(await session.scalars(select(TokenRevocation.key)))
        assert keys == []
    finally:
        await application.state.revocations.close()
        await application.state.rate_limiter.close()
        await application.state.database.dispose()
