"""PostgreSQL helpers for the test suite."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest
from sqlalchemy import make_url


def postgres_required() -> bool:
    """In CI a missing PostgreSQL is a failure, elsewhere a skip."""
    return bool(os.environ.get("CI"))


async def _recreate(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    assert name, "the PostgreSQL test URL must name a database"
    admin = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database="postgres",
        timeout=5,
    )
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def recreate_database(url: str) -> None:
    """Drop and create the database named in `url`, or skip/fail when unreachable."""
    try:
        with ThreadPoolExecutor(max_workers=1) as executor:
            executor.submit(asyncio.run, _recreate(url)).result()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL at {make_url(url).render_as_string()} unreachable: {exc}"
        if postgres_required():
            pytest.fail(message)
        pytest.skip(message)
