"""Authentication of render workers by worker token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mage_studio.core.db import Database
from mage_studio.core.routing import DbSession
from mage_studio.queue.models import WorkerToken
from mage_studio.queue.tokens import authenticate_token

worker_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="WorkerToken",
    description="Worker token from `mage-studio worker-token create` or the admin API.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(worker_bearer)]


def _secret(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    return credentials.credentials


async def current_worker_token(
    session: DbSession, credentials: Credentials
) -> WorkerToken:
    """Authenticate the worker inside the request's transaction."""
    return await authenticate_token(session, _secret(credentials))


async def claiming_worker_token(
    request: Request, credentials: Credentials
) -> WorkerToken:
    """Authenticate the worker in a short transaction of its own.

    A claim may wait 30 seconds; on SQLite a request transaction would hold the
    database's write lock for all that time.
    """
    database: Database = request.app.state.database
    async with database.session() as session:
        return await authenticate_token(session, _secret(credentials))


WorkerAuth = Annotated[WorkerToken, Depends(current_worker_token)]
ClaimingWorker = Annotated[WorkerToken, Depends(claiming_worker_token)]
