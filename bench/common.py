"""Database and settings setup shared by the benchmark scripts in this folder."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from sqlalchemy import make_url

from mage_studio.config import Environment, Settings


async def recreate_database(url: str) -> None:
    """Drop and create the benchmark database named in `url`."""
    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database="postgres",
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}"')
        await connection.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await connection.close()


def bench_settings(url: str, storage: Path, pool_size: int) -> Settings:
    """Return test-mode settings without embedded workers or Redis."""
    return Settings(
        env=Environment.TEST,
        database_url=url,
        database_pool_size=pool_size,
        storage_path=storage,
        log_path=storage / "log",
        log_level="WARNING",
        jwt_secret="bench-secret-that-is-long-enough-for-hs256-000",
        embedded_workers=0,
        redis_url=None,
        public_url="http://bench",
    )
