"""Signed JWTs: access tokens and single-purpose tokens (mail links, OAuth state).

Access tokens use `jwt_algorithm` (HS256 with `jwt_secret`, or RS256 with the PEM
key files) and carry iss, aud, sub, jti, iat, nbf, exp, the token version of the
user (`ver`) and, for sessions, the refresh family (`fam`). Decoding accepts only
the configured algorithm, so `none` and HS/RS confusion are rejected.

Purpose tokens are always HS256 with `jwt_secret` and an audience of their own, so
they never pass as access tokens and access tokens never pass as them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt

from mage_studio.config import Settings
from mage_studio.core.schemas import MAX_ROW_ID
from mage_studio.errors import Unauthorized

ACCESS_TOKEN_TYPE = "access"  # noqa: S105
SUPPORTED_ALGORITHMS = ("HS256", "RS256")
REQUIRED_CLAIMS = ["iss", "aud", "sub", "jti", "iat", "nbf", "exp", "typ", "ver"]
PURPOSE_ALGORITHM = "HS256"
LEEWAY_SECONDS = 5


class InvalidPurposeToken(Exception):
    """A purpose token that is malformed, forged, expired or for another purpose."""


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
    version: int


@lru_cache(maxsize=8)
def _read_key(path: Path) -> str:
    return path.read_text()


def _signing_key(settings: Settings) -> str:
    if settings.jwt_algorithm == "RS256":
        if settings.jwt_private_key_path is None:
            raise RuntimeError("RS256 needs MAGE_JWT_PRIVATE_KEY_PATH")
        return _read_key(settings.jwt_private_key_path)
    return settings.jwt_secret


def _verification_key(settings: Settings) -> str:
    if settings.jwt_algorithm == "RS256":
        if settings.jwt_public_key_path is None:
            raise RuntimeError("RS256 needs MAGE_JWT_PUBLIC_KEY_PATH")
        return _read_key(settings.jwt_public_key_path)
    return settings.jwt_secret


def check_signing_setup(settings: Settings) -> None:
    """Raise a clear error at start-up when the token algorithm or keys are unusable."""
    if settings.jwt_algorithm not in SUPPORTED_ALGORITHMS:
        raise RuntimeError(
            f"MAGE_JWT_ALGORITHM must be one of {', '.join(SUPPORTED_ALGORITHMS)}, "
            f"not {settings.jwt_algorithm!r}"
        )
    probe = create_access_token(settings, 1)
    decode_access_token(settings, probe.token)


def create_access_token(
    settings: Settings,
    user_id: int,
    *,
    family: str | None = None,
    version: int = 0,
    now: datetime | None = None,
) -> AccessToken:
    """Sign an access token for `user_id`.

    `version` is the user's `token_version`; `family` ties the token to a refresh
    family so that logout and reuse detection can revoke it.
    """
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
        "ver": version,
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
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The access token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The access token is invalid.") from exc
    return _access_claims(claims)


def _access_claims(claims: dict[str, Any]) -> AccessClaims:
    invalid = Unauthorized("The access token is invalid.")
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise invalid
    family = claims.get("fam")
    version = claims.get("ver")
    if (family is not None and not isinstance(family, str)) or type(version) is not int:
        raise invalid
    try:
        user_id = int(claims["sub"])
        issued_at = datetime.fromtimestamp(int(claims["iat"]), UTC)
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise invalid from exc
    # Only the signing key can create such a subject, but the database query for
    # it would fail with an error instead of a 401.
    if not 1 <= user_id <= MAX_ROW_ID:
        raise invalid
    return AccessClaims(
        user_id=user_id,
        jti=str(claims["jti"]),
        issued_at=issued_at,
        expires_at=expires_at,
        family=family,
        version=version,
    )


def access_token_user_id(settings: Settings, token: str) -> str | None:
    """Return the user id of a valid access token, or None (revocation unchecked)."""
    try:
        return str(decode_access_token(settings, token).user_id)
    except Unauthorized:
        return None


def _purpose_audience(settings: Settings, purpose: str) -> str:
    return f"{settings.jwt_audience}/{purpose}"


def sign_purpose_token(
    settings: Settings,
    purpose: str,
    subject: str,
    ttl_seconds: int,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a token usable only for `purpose` (such as `verify-email`)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        **(extra or {}),
        "iss": settings.jwt_issuer,
        "aud": _purpose_audience(settings, purpose),
        "sub": subject,
        "typ": purpose,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=PURPOSE_ALGORITHM)


def read_purpose_token(settings: Settings, purpose: str, token: str) -> dict[str, Any]:
    """Return the claims of a valid token for `purpose`; raise InvalidPurposeToken."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[PURPOSE_ALGORITHM],
            audience=_purpose_audience(settings, purpose),
            issuer=settings.jwt_issuer,
            options={"require": ["iss", "aud", "sub", "typ", "iat", "exp"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError as exc:
        raise InvalidPurposeToken(str(exc)) from exc
    if claims.get("typ") != purpose:
        raise InvalidPurposeToken("wrong token type")
    return claims
