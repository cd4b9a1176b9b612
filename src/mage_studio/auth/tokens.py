"""Access tokens: signed JWTs with a fixed algorithm and the standard claims."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from mage_studio.config import Settings
from mage_studio.errors import Unauthorized

ACCESS_TOKEN_TYPE = "access"  # noqa: S105
REQUIRED_CLAIMS = ["iss", "aud", "sub", "jti", "iat", "nbf", "exp", "typ"]


@dataclass(frozen=True)
class AccessToken:
    token: str
    jti: str
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    jti: str
    issued_at: datetime
    expires_at: datetime
    family: str | None


def _signing_key(settings: Settings) -> str:
    if settings.jwt_algorithm.startswith("RS"):
        assert settings.jwt_private_key_path is not None
        return settings.jwt_private_key_path.read_text()
    return settings.jwt_secret


def _verification_key(settings: Settings) -> str:
    if settings.jwt_algorithm.startswith("RS"):
        assert settings.jwt_public_key_path is not None
        return settings.jwt_public_key_path.read_text()
    return settings.jwt_secret


def create_access_token(
    settings: Settings,
    user_id: int,
    *,
    family: str | None = None,
    now: datetime | None = None,
) -> AccessToken:
    """Sign an access token for `user_id`; `family` ties it to a refresh family."""
    issued = now or datetime.now(UTC)
    lifetime = settings.access_token_ttl_seconds
    expires = issued + timedelta(seconds=lifetime)
    jti = uuid.uuid4().hex
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "jti": jti,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "typ": ACCESS_TOKEN_TYPE,
    }
    if family is not None:
        claims["fam"] = family
    token = jwt.encode(claims, _signing_key(settings), algorithm=settings.jwt_algorithm)
    return AccessToken(token=token, jti=jti, expires_at=expires, expires_in=lifetime)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify signature, algorithm, issuer, audience and times; raise 401 otherwise."""
    try:
        claims = jwt.decode(
            token,
            _verification_key(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The access token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The access token is invalid.") from exc
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise Unauthorized("The access token is invalid.")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise Unauthorized("The access token is invalid.") from exc
    return AccessClaims(
        user_id=user_id,
        jti=str(claims["jti"]),
        issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        family=claims.get("fam"),
    )
