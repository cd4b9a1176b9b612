"""Queries of the auth tables, with the dialect-specific SQL in one place."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from mage_studio.auth.models import (
    PasswordResetToken,
    RefreshToken,
    SocialAccount,
    TokenRevocation,
)


async def insert_revocation(
    session: AsyncSession, key: str, expires_at: datetime
) -> bool:
    """Insert `key` unless present; return whether this call inserted it."""
    values = {"key": key, "expires_at": expires_at}
    dialect = session.get_bind().dialect.name
    statement: Executable
    if dialect == "postgresql":
        statement = (
            postgresql.insert(TokenRevocation).values(values).on_conflict_do_nothing()
        )
    elif dialect == "sqlite":
        statement = (
            sqlite.insert(TokenRevocation).values(values).on_conflict_do_nothing()
        )
    else:
        statement = mysql.insert(TokenRevocation).values(values).prefix_with("IGNORE")
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


async def revoked_keys(
    session: AsyncSession, keys: list[str], now: datetime
) -> list[str]:
    rows = await session.scalars(
        select(TokenRevocation.key).where(
            TokenRevocation.key.in_(keys), TokenRevocation.expires_at > now
        )
    )
    return list(rows)


async def delete_expired(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Delete expired revocations, refresh tokens and reset tokens; return counts."""
    counts = {}
    for model in (TokenRevocation, RefreshToken, PasswordResetToken):
        result = await session.execute(delete(model).where(model.expires_at <= now))
        counts[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    return counts


async def refresh_token_by_hash(
    session: AsyncSession, token_hash: str
) -> RefreshToken | None:
    """Return the refresh token row, locked on PostgreSQL against a parallel spend."""
    row: RefreshToken | None = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == token_hash)
        .with_for_update()
    )
    return row


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_families(
    session: AsyncSession, user_id: int, now: datetime, *, keep: str | None
) -> None:
    """Revoke every refresh token of `user_id` except those of family `keep`."""
    statement = update(RefreshToken).where(
        RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(RefreshToken.family_id != keep)
    await session.execute(statement.values(revoked_at=now))


async def restamp_family(
    session: AsyncSession, family_id: str, token_version: int
) -> None:
    """Move the live tokens of a kept family to the user's new token version."""
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.family_id == family_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.used_at.is_(None),
        )
        .values(token_version=token_version)
    )


async def reset_token_by_hash(
    session: AsyncSession, token_hash: str
) -> PasswordResetToken | None:
    row: PasswordResetToken | None = await session.scalar(
        select(PasswordResetToken)
        .where(PasswordResetToken.token_hash == token_hash)
        .with_for_update()
    )
    return row


async def social_account(
    session: AsyncSession, provider: str, provider_user_id: str
) -> SocialAccount | None:
    row: SocialAccount | None = await session.scalar(
        select(SocialAccount).where(
            SocialAccount.provider == provider,
            SocialAccount.provider_user_id == provider_user_id,
        )
    )
    return row


async def social_account_of_user(
    session: AsyncSession, user_id: int, provider: str
) -> SocialAccount | None:
    row: SocialAccount | None = await session.scalar(
        select(SocialAccount).where(
            SocialAccount.user_id == user_id, SocialAccount.provider == provider
        )
    )
    return row


async def social_accounts_of_users(
    session: AsyncSession, user_ids: list[int]
) -> list[SocialAccount]:
    rows = await session.scalars(
        select(SocialAccount).where(SocialAccount.user_id.in_(user_ids))
    )
    return list(rows)


async def count_social_accounts(session: AsyncSession, user_id: int) -> int:
    rows = await session.scalars(
        select(SocialAccount.id).where(SocialAccount.user_id == user_id)
    )
    return len(list(rows))
