"""Worker tokens: high-entropy bearer secrets of which only the SHA-256 is stored.

A token looks like `mwt_<43 url-safe characters>` (256 random bits); its first 12
characters are kept as `prefix` so admins can tell tokens apart. SHA-256 without a salt
is enough here because the secret is random, not a password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import Database, utcnow
from mage_studio.errors import NotFound, Unauthorized
from mage_studio.queue.models import WorkerToken

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "mwt_"  # noqa: S105
PREFIX_LENGTH = 12
EMBEDDED_TOKEN_NAME = "embedded"  # noqa: S105
# `last_used_at` is written at most this often per token, to keep heartbeats cheap.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: the only moment its secret is known."""

    record: WorkerToken
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_token(
    session: AsyncSession, name: str, *, created_by_id: int | None = None
) -> IssuedToken:
    """Store a new worker token and return it with its secret (shown once)."""
    token = generate_token()
    record = WorkerToken(
        name=name,
        token_hash=hash_token(token),
        prefix=token[:PREFIX_LENGTH],
        created_by_id=created_by_id,
    )
    session.add(record)
    await session.flush()
    log.info("worker_token_created", token_id=record.id, name=name)
    return IssuedToken(record=record, token=token)


async def list_tokens(
    session: AsyncSession, *, include_revoked: bool = True
) -> list[WorkerToken]:
    query = select(WorkerToken).order_by(WorkerToken.id)
    if not include_revoked:
        query = query.where(WorkerToken.revoked_at.is_(None))
    return list((await session.scalars(query)).all())


async def revoke_token(
    session: AsyncSession, token_id: int
) -> tuple[WorkerToken, bool]:
    """Revoke a token; workers using it get 401 from their next call.

    Idempotent: the flag is False when the token was already revoked.
    """
    record = await session.get(WorkerToken, token_id)
    if record is None:
        raise NotFound("Worker token not found.")
    if record.revoked_at is not None:
        return record, False
    record.revoked_at = utcnow()
    await session.flush()
    log.info("worker_token_revoked", token_id=record.id, name=record.name)
    return record, True


async def authenticate_token(session: AsyncSession, token: str | None) -> WorkerToken:
    """Return the unrevoked token record for a bearer secret, or raise 401."""
    if not token or not token.startswith(TOKEN_PREFIX):
        raise Unauthorized("A valid worker token is required.")
    digest = hash_token(token)
    record = await session.scalar(
        select(WorkerToken).where(WorkerToken.token_hash == digest)
    )
    # The lookup is by hash, so comparing again only guards against a collation quirk.
    if record is None or not hmac.compare_digest(record.token_hash, digest):
        raise Unauthorized("A valid worker token is required.")
    if record.revoked_at is not None:
        raise Unauthorized("The worker token has been revoked.")
    await _touch(session, record)
    return record


async def _touch(session: AsyncSession, record: WorkerToken) -> None:
    now = utcnow()
    last = record.last_used_at
    if last is not None and now - last < LAST_USED_RESOLUTION:
        return
    await session.execute(
        update(WorkerToken)
        .where(WorkerToken.id == record.id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    record.last_used_at = now


def embedded_token_name(port: int) -> str:
    return f"{EMBEDDED_TOKEN_NAME}@{socket.gethostname()}:{port}"[:255]


async def ensure_embedded_worker_token(session: AsyncSession, port: int) -> str:
    """Create the token the in-process workers of the server on `port` use.

    The secret exists only in the caller's memory. Earlier embedded tokens of the same
    host and port (from previous runs) are revoked, so a restart leaves one valid
    token and a second server on another port keeps its own. The caller commits.
    """
    name = embedded_token_name(port)
    await session.execute(
        update(WorkerToken)
        .where(WorkerToken.name == name, WorkerToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    issued = await create_token(session, name)
    return issued.token


async def issue_embedded_worker_token(database: Database, port: int) -> str:
    """Create the embedded workers' token in a transaction of its own and return it."""
    async with database.session() as session:
        return await ensure_embedded_worker_token(session, port)
