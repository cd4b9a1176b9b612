"""Request-scoped database sessions, committed at the request boundary.

Routers are built with `APIRouter(route_class=DbRoute)`. The first `DbSession`
dependency opens a session. When the endpoint returns, `DbRoute` commits it before the
response is sent, so a failed commit still produces a proper error response. Then it
runs the callbacks registered with `after_commit` (events, notifications, queue
wake-ups). Services only flush.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import Database

log = structlog.get_logger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
_SESSION = "db_session"
_CALLBACKS = "after_commit"


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncSession:
    session: AsyncSession | None = getattr(request.state, _SESSION, None)
    if session is None:
        session = get_database(request).sessionmaker()
        setattr(request.state, _SESSION, session)
        session.info[_CALLBACKS] = []
    return session


DbSession = Annotated[AsyncSession, Depends(get_session)]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has committed.

    Outside a request (workers, CLI) the callback list may be absent: the callback then
    runs at the next commit made through `commit_and_run_callbacks`.
    """
    session.info.setdefault(_CALLBACKS, []).append(callback)


async def commit_and_run_callbacks(session: AsyncSession) -> None:
    await session.commit()
    callbacks: list[AfterCommit] = session.info.pop(_CALLBACKS, [])
    session.info[_CALLBACKS] = []
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            log.exception("after_commit_callback_failed")


class DbRoute(APIRoute):
    """An API route that commits the request's session before responding."""

    def get_route_handler(
        self,
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
                session = getattr(request.state, _SESSION, None)
                if session is not None:
                    await commit_and_run_callbacks(session)
                return response
            except BaseException:
                session = getattr(request.state, _SESSION, None)
                if session is not None:
                    await session.rollback()
                raise
            finally:
                session = getattr(request.state, _SESSION, None)
                if session is not None:
                    setattr(request.state, _SESSION, None)
                    await session.close()

        return handle


def session_of(request: Request) -> Any:
    """Return the session a request opened, if any (for tests and middleware)."""
    return getattr(request.state, _SESSION, None)


async def json_object(request: Request) -> Any:
    """Read the JSON body by hand so authentication and ownership come first."""
    try:
        return await request.json()
    except (ValueError, RecursionError):
        # Invalid JSON, or JSON nested deeper than the parser's recursion limit.
        return None
