"""`GET /api/status[/{serviceName}]`: service checks for anyone, details for admins."""

from __future__ import annotations

import asyncio
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials

from mage_studio.admin.schemas import StatusReport
from mage_studio.admin.status import CHECKS, service_status
from mage_studio.auth.deps import authenticate, bearer
from mage_studio.config import Settings
from mage_studio.core.db import Database
from mage_studio.core.schemas import Envelope
from mage_studio.errors import NotFound

log = structlog.get_logger(__name__)

# Not a DbRoute: the checks open their own sessions, so a database outage is
# reported in the body instead of failing the request.
router = APIRouter(tags=["system"])

ServiceName = Annotated[
    str,
    Path(
        alias="serviceName",
        min_length=1,
        max_length=32,
        description="One of: " + ", ".join(CHECKS) + ".",
    ),
]


async def caller_is_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> bool:
    """Return whether the request carries a valid access token of an admin.

    Any other token, or a failure while checking it (the database or Redis may be
    the very thing that is down), counts as anonymous instead of an error.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        return False
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    try:
        async with asyncio.timeout(settings.status_check_timeout_seconds):
            async with database.sessionmaker() as session:
                user = await authenticate(
                    request, session, settings, credentials.credentials
                )
                return user.is_admin
    except Exception as exc:
        log.info("status_caller_not_verified", error=type(exc).__name__)
        return False


CallerIsAdmin = Annotated[bool, Depends(caller_is_admin)]


@router.get("/api/status", response_model=Envelope[StatusReport])
async def status_of_all(
    request: Request, is_admin: CallerIsAdmin
) -> Envelope[StatusReport]:
    """Check the app, database, storage, Redis, queue and workers.

    Every caller gets each service's name and `ok` or `failed`; administrators also
    see the details (latency, counts, errors). A failed check is reported in the
    body, so the response is 200 either way.
    """
    report = await service_status(request.app, list(CHECKS), with_details=is_admin)
    return Envelope(data=report)


@router.get("/api/status/{serviceName}", response_model=Envelope[StatusReport])
async def status_of_one(
    request: Request,
    is_admin: CallerIsAdmin,
    service_name: ServiceName,
) -> Envelope[StatusReport]:
    """Run one check (app, database, storage, redis, queue or workers); an
    unknown name is 404."""
    if service_name not in CHECKS:
        known = ", ".join(CHECKS)
        raise NotFound(f"Unknown service {service_name!r}. Known services: {known}.")
    report = await service_status(request.app, [service_name], with_details=is_admin)
    return Envelope(data=report)
