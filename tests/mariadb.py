"""MariaDB helpers for the test suite."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import asyncmy
import pytest
from asyncmy.errors import MySQLError
from sqlalchemy import make_url

from tests.postgres import postgres_required


async def _recreate(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    assert name, "the MariaDB test URL must name a database"
    admin = await asyncio.wait_for(
        asyncmy.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=parsed.password or "",
        ),
        timeout=5,
    )
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            await cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        admin.close()


def recreate_database(url: str) -> None:
    """Drop and create the database named in `url`, or skip/fail when unreachable."""
    try:
        with ThreadPoolExecutor(max_workers=1) as executor:
            executor.submit(asyncio.run, _recreate(url)).result()
    except (OSError, MySQLError, TimeoutError) as exc:
        message = f"MariaDB at {make_url(url).render_as_string()} unreachable: {exc}"
        if postgres_required():
            pytest.fail(message)
        pytest.skip(message)
