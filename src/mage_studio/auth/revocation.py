"""The revocation store: access token ids, token families and spent OAuth states.

Keys live until the tokens they stop would have expired anyway. With `redis_url`
set they are Redis keys with a TTL, written at once. Otherwise they are rows of
`token_revocations`, written in the caller's transaction; expired rows are deleted
on each write and by the pruning service.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.auth import repository
from mage_studio.auth.models import TokenRevocation
from mage_studio.config import Settings
from mage_studio.core.db import utcnow
from mage_studio.errors import ServiceUnavailable

# A Redis that accepts connections but never replies must not hang requests.
REDIS_TIMEOUT_SECONDS = 2.0

log = structlog.get_logger(__name__)

REDIS_PREFIX = "mage:revoked:"


def jti_key(jti: str) -> str:
    return f"jti:{jti}"


def family_key(family: str) -> str:
    return f"family:{family}"


def state_key(nonce: str) -> str:
    return f"state:{nonce}"


class RevocationStore(Protocol):
    async def add(self, session: AsyncSession, key: str, expires_at: datetime) -> bool:
        """Record `key` until `expires_at`; return False when it was already there."""
        ...

    async def any_revoked(self, session: AsyncSession, keys: Sequence[str]) -> bool:
        """Return whether any of `keys` is recorded and unexpired."""
        ...

    async def close(self) -> None: ...


class DatabaseRevocationStore:
    """Rows of `token_revocations` in the caller's transaction."""

    async def add(self, session: AsyncSession, key: str, expires_at: datetime) -> bool:
        now = utcnow()
        await session.execute(
            delete(TokenRevocation).where(TokenRevocation.expires_at <= now)
        )
        return await repository.insert_revocation(session, key, expires_at)

    async def any_revoked(self, session: AsyncSession, keys: Sequence[str]) -> bool:
        return bool(await repository.revoked_keys(session, list(keys), utcnow()))

    async def close(self) -> None:
        return None


class RedisRevocationStore:
    """Redis keys with a TTL, shared by every API process.

    Redis errors become 503: a token must not pass unchecked.
    """

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self._client = client

    async def add(self, session: AsyncSession, key: str, expires_at: datetime) -> bool:
        ttl_ms = max(1, int((expires_at - utcnow()).total_seconds() * 1000))
        try:
            created = await self._client.set(
                REDIS_PREFIX + key, b"1", px=ttl_ms, nx=True
            )
        except RedisError as exc:
            raise _unavailable(exc) from exc
        return bool(created)

    async def any_revoked(self, session: AsyncSession, keys: Sequence[str]) -> bool:
        try:
            found = await self._client.exists(*(REDIS_PREFIX + key for key in keys))
        except RedisError as exc:
            raise _unavailable(exc) from exc
        return bool(found)

    async def close(self) -> None:
        # redis-py 5+ names it aclose; the installed type stubs predate that.
        await self._client.aclose()  # type: ignore[attr-defined]


def _unavailable(exc: RedisError) -> ServiceUnavailable:
    log.warning("revocation_store_unavailable", error=repr(exc))
    return ServiceUnavailable("The token store is unavailable. Try again shortly.")


def build_revocation_store(settings: Settings) -> RevocationStore:
    """Return the Redis store when `redis_url` is set, else the database one."""
    if settings.redis_url:
        return RedisRevocationStore(
            redis.Redis.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        )
    return DatabaseRevocationStore()
