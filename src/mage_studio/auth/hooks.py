"""Application state of the auth domain: mail, revocations, rate limits, pruning."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import FastAPI

from mage_studio.auth import repository
from mage_studio.auth.revocation import RevocationStore, build_revocation_store
from mage_studio.auth.social.verify import JwksCache
from mage_studio.auth.tokens import access_token_user_id, check_signing_setup
from mage_studio.config import Settings
from mage_studio.core import ratelimit
from mage_studio.core.db import Database, utcnow
from mage_studio.core.mail import MailService

log = structlog.get_logger(__name__)

PRUNE_INTERVAL_SECONDS = 3600.0
# How long shutdown waits for a prune in progress before cancelling it.
STOP_GRACE_SECONDS = 30.0


def install(app: FastAPI) -> None:
    """Set `app.state.mail`, `.revocations`, `.rate_limiter` and `.jwks_cache`."""
    settings: Settings = app.state.settings
    check_signing_setup(settings)
    app.state.mail = MailService(settings)
    app.state.revocations = build_revocation_store(settings)
    app.state.jwks_cache = JwksCache()
    ratelimit.install(app, access_token_user_id)
    app.state.service_factories.append(_mail_service)
    app.state.service_factories.append(_pruner)
    app.state.service_factories.append(_revocation_closer)


async def _mail_service(app: FastAPI) -> MailService:
    service: MailService = app.state.mail
    return service


async def _pruner(app: FastAPI) -> TokenPruner:
    return TokenPruner(app.state.database)


async def _revocation_closer(app: FastAPI) -> RevocationCloser:
    return RevocationCloser(app.state.revocations)


class RevocationCloser:
    """Closes the revocation store's connections at shutdown."""

    def __init__(self, store: RevocationStore) -> None:
        self._store = store

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._store.close()


class TokenPruner:
    """Deletes expired revocations, refresh tokens and reset tokens every hour."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        # Let a prune in progress finish, because one cancelled inside a database
        # call can leave its connection open and, on SQLite, the write lock held.
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, STOP_GRACE_SECONDS)

    async def prune(self) -> dict[str, int]:
        """Delete what has expired; return the number of rows per table."""
        async with self._database.session() as session:
            return await repository.delete_expired(session, utcnow())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                counts = await self.prune()
                log.info("expired_tokens_pruned", **counts)
            except Exception:
                log.exception("token_pruning_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), PRUNE_INTERVAL_SECONDS)
