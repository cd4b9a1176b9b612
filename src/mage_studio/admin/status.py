"""Service checks behind `GET /api/status`: app, database, storage, Redis, queue,
workers.

Each check runs with `status_check_timeout_seconds` and reports `ok` or `failed`;
an exception or a timeout inside a check becomes `failed` with the error in its
details, never an error response. The database-backed checks open their own
sessions, so one failing check cannot spoil another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
import structlog
from fastapi import FastAPI
from sqlalchemy import text

from mage_studio import __version__
from mage_studio.admin import repository
from mage_studio.admin.schemas import ServiceCheck, StatusReport
from mage_studio.config import Settings
from mage_studio.core.db import Database
from mage_studio.core.storage import Storage, create_storage, new_key
from mage_studio.jobs.models import JobStatus

log = structlog.get_logger(__name__)

PROBE_PREFIX = "status-probes"
PROBE_CONTENT = b"mage-studio status probe\n"
MAX_ERROR_LENGTH = 300

Check = Callable[[FastAPI], Awaitable[dict[str, Any]]]


class CheckFailed(Exception):
    """A check that ran but found the service unhealthy."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


def _settings(app: FastAPI) -> Settings:
    settings: Settings = app.state.settings
    return settings


def _database(app: FastAPI) -> Database:
    database: Database = app.state.database
    return database


def _storage(app: FastAPI) -> Storage:
    storage: Storage | None = getattr(app.state, "storage", None)
    return storage or create_storage(_settings(app))


async def check_app(app: FastAPI) -> dict[str, Any]:
    return {"version": __version__, "env": _settings(app).env.value}


async def check_database(app: FastAPI) -> dict[str, Any]:
    database = _database(app)
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"dialect": database.dialect}


async def check_storage(app: FastAPI) -> dict[str, Any]:
    """Write a probe file, read it back and delete it."""
    storage = _storage(app)
    key = new_key(PROBE_PREFIX, "txt")
    await storage.save_bytes(key, PROBE_CONTENT, content_type="text/plain")
    try:
        if await storage.read(key) != PROBE_CONTENT:
            raise CheckFailed("The probe file read back differs.", {"key": key})
    finally:
        await storage.delete(key)
    return {"backend": storage.kind}


async def check_redis(app: FastAPI) -> dict[str, Any]:
    settings = _settings(app)
    if not settings.redis_url:
        # Everything Redis does has an in-process fallback: not configured is fine.
        return {"configured": False, "message": "not configured"}
    timeout = settings.status_check_timeout_seconds
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        await client.ping()
    finally:
        # redis-py 5+ names it aclose; the installed type stubs predate that.
        await client.aclose()  # type: ignore[attr-defined]
    return {"configured": True}


async def check_queue(app: FastAPI) -> dict[str, Any]:
    async with _database(app).sessionmaker() as session:
        counts = await repository.job_counts_by_status(session)
    return {
        "queued": counts.get(JobStatus.APPROVED.value, 0),
        "processing": counts.get(JobStatus.PROCESSING.value, 0),
        "counts": counts,
    }


async def check_workers(app: FastAPI) -> dict[str, Any]:
    """Fail only when jobs wait in the queue and no worker was seen recently."""
    live_seconds = _settings(app).worker_live_seconds
    async with _database(app).sessionmaker() as session:
        names = await repository.live_workers(session, live_seconds)
        counts = await repository.job_counts_by_status(session)
    queued = counts.get(JobStatus.APPROVED.value, 0)
    details = {"live": len(names), "names": names, "seen_within_seconds": live_seconds}
    if not names and queued:
        raise CheckFailed(f"No live worker while {queued} job(s) wait.", details)
    return details


CHECKS: dict[str, Check] = {
    "app": check_app,
    "database": check_database,
    "storage": check_storage,
    "redis": check_redis,
    "queue": check_queue,
    "workers": check_workers,
}


def describe_error(exc: BaseException) -> str:
    message = str(exc) or "no message"
    return f"{type(exc).__name__}: {message}"[:MAX_ERROR_LENGTH]


async def run_check(app: FastAPI, name: str) -> ServiceCheck:
    """Run one check within the timeout; any failure is reported, not raised."""
    timeout = _settings(app).status_check_timeout_seconds
    started = time.perf_counter()
    details: dict[str, Any]
    try:
        async with asyncio.timeout(timeout):
            details = await CHECKS[name](app)
        status = "ok"
    except CheckFailed as exc:
        details = {**exc.details, "error": str(exc)}
        status = "failed"
    except TimeoutError:
        details = {"error": f"The check timed out after {timeout} seconds."}
        status = "failed"
    except Exception as exc:
        details = {"error": describe_error(exc)}
        status = "failed"
    details["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    if status == "failed":
        log.warning("status_check_failed", service=name, error=details["error"])
    return ServiceCheck(name=name, status=status, details=details)


async def service_status(
    app: FastAPI, names: list[str], *, with_details: bool
) -> StatusReport:
    """Run the named checks concurrently; details only `with_details`."""
    checks = await asyncio.gather(*(run_check(app, name) for name in names))
    if not with_details:
        checks = [check.model_copy(update={"details": None}) for check in checks]
    failed = any(check.status == "failed" for check in checks)
    return StatusReport(status="failed" if failed else "ok", services=list(checks))
