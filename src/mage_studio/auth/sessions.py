"""Sessions: token families, rotating refresh tokens, logout and revoke-all.

A login starts a family: a random id shared by the refresh tokens that follow each
other and by the access tokens issued with them (`fam` claim). Each refresh spends
the presented token and issues the next; presenting a spent token revokes the
family, because then two parties hold it.

Revoking all of a user's sessions increments `User.token_version`. Every token
carries the version it was issued under, so older ones fail at once, whatever
their issue time, and a token issued right after the change carries the new one.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth import repository
from mage_studio.auth.models import RefreshToken
from mage_studio.auth.revocation import RevocationStore, family_key, jti_key
from mage_studio.auth.schemas import LoginPayload
from mage_studio.auth.tokens import (
    LEEWAY_SECONDS,
    AccessClaims,
    AccessToken,
    create_access_token,
)
from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.errors import Unauthorized
from mage_studio.users.models import User

log = structlog.get_logger(__name__)

INVALID_REFRESH = "The refresh token is invalid or has expired."


class RefreshTokenReused(Unauthorized):
    """A spent refresh token was presented again; its family is now revoked."""

    message = "The refresh token was already used. Sign in again."


@dataclass(frozen=True)
class IssuedSession:
    access: AccessToken
    refresh_token: str

    def payload(self) -> LoginPayload:
        return LoginPayload(
            accessToken=self.access.token,
            expiresIn=self.access.expires_in,
            refreshToken=self.refresh_token,
        )


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest stored in place of a random token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_version_accepted(user: User, claims: AccessClaims) -> bool:
    """Return whether the token survived the user's revocations.

    `tokens_valid_after` (whole seconds) rejects tokens of earlier seconds; the
    version check is exact.
    """
    valid_after = user.tokens_valid_after
    if valid_after is not None and claims.issued_at < valid_after.replace(
        microsecond=0
    ):
        return False
    if claims.version == user.token_version:
        return True
    return (
        claims.family is not None
        and claims.family == user.surviving_token_family
        and claims.version == user.token_version - 1
    )


async def start_session(
    session: AsyncSession, settings: Settings, user: User
) -> IssuedSession:
    """Start a new token family for `user` (login)."""
    family = uuid.uuid4().hex
    ends = utcnow() + timedelta(seconds=settings.refresh_token_ttl_seconds)
    issued = await _issue(session, settings, user, family, ends)
    log.info("session_started", user_id=user.id, family_id=family)
    return issued


async def _issue(
    session: AsyncSession,
    settings: Settings,
    user: User,
    family: str,
    family_ends: datetime,
) -> IssuedSession:
    refresh_token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family,
            token_hash=hash_token(refresh_token),
            token_version=user.token_version,
            expires_at=family_ends,
        )
    )
    await session.flush()
    access = create_access_token(
        settings, user.id, family=family, version=user.token_version
    )
    return IssuedSession(access=access, refresh_token=refresh_token)


async def refresh_session(
    session: AsyncSession,
    settings: Settings,
    store: RevocationStore,
    refresh_token: str,
) -> IssuedSession:
    """Spend `refresh_token` and issue the next pair of its family.

    Raises RefreshTokenReused after revoking the family when the token was spent
    before; the caller must commit that revocation before responding.
    """
    row = await repository.refresh_token_by_hash(session, hash_token(refresh_token))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise Unauthorized(INVALID_REFRESH)
    if row.used_at is not None:
        await revoke_family(session, settings, store, row.family_id)
        log.warning(
            "refresh_token_reused", user_id=row.user_id, family_id=row.family_id
        )
        raise RefreshTokenReused()
    if row.expires_at <= now:
        raise Unauthorized(INVALID_REFRESH)

    user = await session.get(User, row.user_id)
    if user is None or not user.active or row.token_version != user.token_version:
        raise Unauthorized(INVALID_REFRESH)

    row.used_at = now
    return await _issue(session, settings, user, row.family_id, row.expires_at)


async def revoke_family(
    session: AsyncSession, settings: Settings, store: RevocationStore, family: str
) -> None:
    """Revoke the refresh tokens of `family` and the access tokens issued with them."""
    now = utcnow()
    await repository.revoke_family(session, family, now)
    # Access tokens of the family were issued at the latest now.
    ends = now + timedelta(seconds=settings.access_token_ttl_seconds + LEEWAY_SECONDS)
    await store.add(session, family_key(family), ends)


async def end_session(
    session: AsyncSession,
    settings: Settings,
    store: RevocationStore,
    claims: AccessClaims,
) -> None:
    """Log out: revoke this access token and its refresh family."""
    ends = claims.expires_at + timedelta(seconds=LEEWAY_SECONDS)
    await store.add(session, jti_key(claims.jti), ends)
    if claims.family is not None:
        await revoke_family(session, settings, store, claims.family)
    log.info("session_ended", user_id=claims.user_id, family_id=claims.family)


async def revoke_all_sessions(
    session: AsyncSession, user: User, *, keep_family: str | None = None
) -> None:
    """Revoke every access and refresh token of `user` (password change or reset).

    `keep_family` spares the session that made the change: its tokens stay valid
    and its next refresh issues tokens of the new version. The version is
    incremented in SQL, so two revocations at once both count.
    """
    now = utcnow()
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            token_version=User.token_version + 1,
            surviving_token_family=keep_family,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(user, ["token_version", "surviving_token_family"])
    await repository.revoke_user_families(session, user.id, now, keep=keep_family)
    if keep_family is not None:
        await repository.restamp_family(session, keep_family, user.token_version)
    await session.flush()
    log.info("sessions_revoked", user_id=user.id, kept_session=keep_family is not None)
