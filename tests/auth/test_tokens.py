"""Access tokens: every forged, stale or misused token is rejected with 401."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.auth.tokens import (
    create_access_token,
    decode_access_token,
    sign_purpose_token,
)
from mage_studio.config import Settings
from mage_studio.errors import Unauthorized
from tests.auth.factories import bearer, login, register
from tests.auth.fixtures import client_for
from tests.conftest import TEST_JWT_SECRET, make_settings
from tests.factories import create_user


def _claims(settings: Settings, user_id: int, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "jti": "a" * 32,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "typ": "access",
        "ver": 0,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _hs256(claims: dict[str, Any], secret: str = TEST_JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def _rsa_pem() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


async def _me_status(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/api/auth/me", headers=bearer(token))).status_code


async def test_valid_token_is_accepted(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    await session.commit()
    assert await _me_status(client, _hs256(_claims(settings, user.id))) == 200


FORGERIES: dict[str, Callable[[Settings, int], str]] = {
    "alg none": lambda s, uid: _unsigned(_claims(s, uid)),
    "wrong key": lambda s, uid: _hs256(_claims(s, uid), "another-secret-" * 4),
    "wrong audience": lambda s, uid: _hs256(_claims(s, uid, aud="another-api")),
    "wrong issuer": lambda s, uid: _hs256(_claims(s, uid, iss="someone-else")),
    "expired": lambda s, uid: _hs256(
        _claims(s, uid, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    ),
    "not yet valid": lambda s, uid: _hs256(
        _claims(s, uid, nbf=int(time.time()) + 3600, exp=int(time.time()) + 7200)
    ),
    "no expiry": lambda s, uid: _hs256(_claims(s, uid, exp=None)),
    "no jti": lambda s, uid: _hs256(_claims(s, uid, jti=None)),
    "other type": lambda s, uid: _hs256(_claims(s, uid, typ="refresh")),
    "no version": lambda s, uid: _hs256(_claims(s, uid, ver=None)),
    "unknown user": lambda s, uid: _hs256(_claims(s, uid + 10_000)),
    "subject beyond row ids": lambda s, uid: _hs256(_claims(s, 2**40)),
    "zero subject": lambda s, uid: _hs256(_claims(s, 0)),
    "purpose token": lambda s, uid: sign_purpose_token(
        s, "verify-email", str(uid), 600
    ),
    "garbage": lambda s, uid: "not.a.token",
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=list(FORGERIES))
async def test_forged_token_is_401(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    forge: Callable[[Settings, int], str],
) -> None:
    user = await create_user(session)
    await session.commit()

    response = await client.get(
        "/api/auth/me", headers=bearer(forge(settings, user.id))
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Authentication is required."


async def test_refresh_token_as_access_token_is_401(
    client: httpx.AsyncClient,
) -> None:
    _, email = await register(client)
    tokens = await login(client, email)
    assert await _me_status(client, tokens["refreshToken"]) == 401


async def test_revoked_token_is_401(client: httpx.AsyncClient) -> None:
    _, email = await register(client)
    tokens = await login(client, email)
    logout = await client.post(
        "/api/auth/logout", headers=bearer(tokens["accessToken"])
    )
    assert logout.status_code == 200
    assert await _me_status(client, tokens["accessToken"]) == 401


async def test_inactive_user_token_is_401(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    user = await create_user(session)
    user.active = False
    await session.commit()
    token = create_access_token(settings, user.id).token
    assert await _me_status(client, token) == 401


@pytest.fixture
def rsa_settings(
    database_url: str, storage_root: Path, tmp_path: Path
) -> tuple[Settings, bytes]:
    private, public = _rsa_pem()
    (tmp_path / "private.pem").write_bytes(private)
    (tmp_path / "public.pem").write_bytes(public)
    settings = make_settings(
        database_url,
        storage_root,
        jwt_algorithm="RS256",
        jwt_private_key_path=tmp_path / "private.pem",
        jwt_public_key_path=tmp_path / "public.pem",
    )
    return settings, public


@pytest.fixture
async def rsa_app(rsa_settings: tuple[Settings, bytes]) -> Any:
    application = create_app(rsa_settings[0])
    yield application
    await application.state.database.dispose()


async def test_rs256_tokens_work(
    rsa_app: FastAPI, rsa_settings: tuple[Settings, bytes], session: AsyncSession
) -> None:
    settings, _ = rsa_settings
    user = await create_user(session)
    await session.commit()
    token = create_access_token(settings, user.id).token

    async with client_for(rsa_app) as client:
        assert await _me_status(client, token) == 200
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


async def test_hs_rs_confusion_is_401(
    rsa_app: FastAPI, rsa_settings: tuple[Settings, bytes], session: AsyncSession
) -> None:
    settings, public_pem = rsa_settings
    user = await create_user(session)
    await session.commit()
    # The classic confusion: an HS256 token keyed with the (public) RSA key.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(
        json.dumps(_claims(settings, user.id)).encode()
    ).rstrip(b"=")
    import hashlib
    import hmac

    signing_input = header + b"." + payload
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    forged = (
        signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")
    ).decode()

    async with client_for(rsa_app) as client:
        assert await _me_status(client, forged) == 401
        assert await _me_status(client, _hs256(_claims(settings, user.id))) == 401


def test_rs256_token_fails_under_other_key(
    rsa_settings: tuple[Settings, bytes], tmp_path: Path
) -> None:
    settings, _ = rsa_settings
    token = create_access_token(settings, 1).token
    _, other_public = _rsa_pem()
    (tmp_path / "other.pem").write_bytes(other_public)
    other = settings.model_copy(update={"jwt_public_key_path": tmp_path / "other.pem"})
    with pytest.raises(Unauthorized):
        decode_access_token(other, token)


def test_unsupported_algorithm_is_rejected_at_startup(
    database_url: str, storage_root: Path
) -> None:
    settings = make_settings(database_url, storage_root, jwt_algorithm="none")
    with pytest.raises(RuntimeError, match="MAGE_JWT_ALGORITHM"):
        create_app(settings)


def test_token_carries_standard_claims(settings: Settings) -> None:
    issued = create_access_token(settings, 7, family="f" * 32, version=3)
    claims = jwt.decode(
        issued.token,
        TEST_JWT_SECRET,
        algorithms=["HS256"],
        audience=settings.jwt_audience,
    )
    assert set(claims) >= {"iss", "aud", "sub", "jti", "iat", "nbf", "exp"}
    assert claims["sub"] == "7"
    assert claims["ver"] == 3
    assert claims["fam"] == "f" * 32
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl_seconds
    assert issued.expires_in == settings.access_token_ttl_seconds
