"""Leader election for the queue's periodic work (reaper, placement snapshot).

PostgreSQL: a session-level advisory lock held on a dedicated connection; it is freed
when that connection closes, so a crashed leader is replaced at once. Without
PostgreSQL but with Redis: a key set with `NX` and a TTL, renewed by its holder.
Otherwise (SQLite's embedded single process, or MariaDB without Redis) every process
is always the leader, so several MariaDB API processes each run the reaper and the
snapshot. Several leaders at once do no harm: every change the reaper makes is
fenced; the election only keeps the work from being repeated.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from mage_studio.core.db import Database
from mage_studio.queue.dialects import (
    holds_advisory_lock,
    release_advisory_lock,
    try_advisory_lock,
)

log = structlog.get_logger(__name__)

REDIS_LEADER_KEY = "mage:queue:leader"
# Renew the Redis key only while it still contains our value; 1 when renewed.
_RENEW_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Leadership(Protocol):
    async def acquire(self) -> bool:
        """Try to become or stay the leader; return whether this process leads."""

    async def release(self) -> None: ...


class AlwaysLeader:
    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class PostgresLeader:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.connection: AsyncConnection | None = None
        self.held = False

    async def acquire(self) -> bool:
        try:
            if self.connection is None:
                connection = await self.database.engine.connect()
                self.connection = await connection.execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            if self.held:
                self.held = await holds_advisory_lock(self.connection)
            else:
                self.held = await try_advisory_lock(self.connection)
                if self.held:
                    log.info("queue_leader_acquired", mechanism="postgresql")
        except Exception as exc:
            log.warning("queue_leader_check_failed", error=str(exc))
            await self._drop_connection()
        return self.held

    async def _drop_connection(self) -> None:
        self.held = False
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                await connection.invalidate()
                await connection.close()
            except Exception as exc:
                log.warning("queue_leader_connection_close_failed", error=str(exc))

    async def release(self) -> None:
        connection = self.connection
        if connection is not None and self.held:
            try:
                await release_advisory_lock(connection)
            except Exception as exc:
                log.warning("queue_leader_release_failed", error=str(exc))
        # Invalidating closes the database connection instead of returning it to
        # the pool, so a lock the unlock above missed cannot outlive leadership.
        await self._drop_connection()


class RedisLeader:
    def __init__(self, redis: Any, ttl_seconds: float) -> None:
        self.redis = redis
        self.ttl_ms = max(1000, int(ttl_seconds * 1000))
        self.value = secrets.token_hex(16)
        self.held = False

    async def acquire(self) -> bool:
        try:
            if self.held:
                renewed = await self.redis.eval(
                    _RENEW_SCRIPT, 1, REDIS_LEADER_KEY, self.value, self.ttl_ms
                )
                self.held = bool(renewed)
            if not self.held:
                self.held = bool(
                    await self.redis.set(
                        REDIS_LEADER_KEY, self.value, nx=True, px=self.ttl_ms
                    )
                )
                if self.held:
                    log.info("queue_leader_acquired", mechanism="redis")
        except Exception as exc:
            log.warning("queue_leader_check_failed", error=str(exc))
            self.held = False
        return self.held

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            await self.redis.eval(_RELEASE_SCRIPT, 1, REDIS_LEADER_KEY, self.value)
        except Exception as exc:
            log.warning("queue_leader_release_failed", error=str(exc))


def choose_leadership(
    database: Database, redis: Any | None, ttl_seconds: float
) -> Leadership:
    if database.dialect == "postgresql":
        return PostgresLeader(database)
    if redis is not None:
        return RedisLeader(redis, ttl_seconds)
    return AlwaysLeader()
