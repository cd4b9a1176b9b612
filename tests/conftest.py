"""Shared fixtures: a migrated database (SQLite, PostgreSQL or MariaDB), the app,
a client.

`MAGE_TEST_DATABASE_URL` selects the database: `sqlite` (default) uses a file in a
temporary folder; a `postgresql+asyncpg://` or `mysql+asyncmy://` URL uses that
server, recreating the database named in it. A server database fails the run in CI
(`CI` set) when it is unreachable and skips it elsewhere.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mage_studio.app import create_app
from mage_studio.config import Environment, Settings
from mage_studio.core.db import MYSQL_DIALECTS, Database
from mage_studio.core.migrations import upgrade
from mage_studio.models import metadata
from mage_studio.users.models import User
from tests import mariadb, postgres
from tests.factories import create_admin, create_user

T = TypeVar("T")

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
SAMPLES_DIR = Path(
    os.environ.get(
        "MAGE_SAMPLES_DIR", str(Path(__file__).resolve().parents[2] / "shared")
    )
)


def _requested_database() -> str:
    return os.environ.get("MAGE_TEST_DATABASE_URL", "sqlite")


def _main_thread_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # set to None by `asyncio.run` or Playwright's sync API
        return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Any:
    """Give the main thread its event loop back when a test cleared it.

    Without this, one test that calls `asyncio.run` in the main thread fails every
    async test after it with "no current event loop" instead of failing alone.
    """
    loop = _main_thread_loop()
    try:
        return (yield)
    finally:
        if loop is not None and not loop.is_closed() and _main_thread_loop() is None:
            asyncio.set_event_loop(loop)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Create and migrate the test database once per run."""
    requested = _requested_database()
    if requested == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = requested
        if make_url(url).get_backend_name() in MYSQL_DIALECTS:
            mariadb.recreate_database(url)
        else:
            postgres.recreate_database(url)
    # Alembic's env runs its own event loop; a separate thread keeps it away from
    # the loop pytest-asyncio set for the main thread.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(upgrade, url).result()
    return url


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


@pytest.fixture(scope="session")
def storage_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("storage")


def make_settings(
    database_url: str, storage_root: Path, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "env": Environment.TEST,
        "database_url": database_url,
        "storage_path": storage_root,
        "log_path": storage_root / "log",
        "jwt_secret": TEST_JWT_SECRET,
        "embedded_workers": 0,
        "redis_url": None,
        "smtp_url": None,
        "public_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str, storage_root: Path) -> Settings:
    return make_settings(database_url, storage_root)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await empty_tables(application.state.database)
    await application.state.database.dispose()


async def empty_tables(database: Database) -> None:
    """Delete every row so the next test starts from an empty schema."""
    tables = [table.name for table in metadata.sorted_tables]
    async with database.engine.begin() as connection:
        if database.is_sqlite:
            for name in reversed(tables):
                await connection.execute(text(f'DELETE FROM "{name}"'))
        elif database.dialect in MYSQL_DIALECTS:
            await _empty_mariadb_tables(connection, set(tables))
        elif tables:
            quoted = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(
                text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
            )


async def _empty_mariadb_tables(connection: AsyncConnection, tables: set[str]) -> None:
    """Empty the tables, truncating those whose AUTO_INCREMENT counter has moved.

    TRUNCATE resets AUTO_INCREMENT like PostgreSQL's RESTART IDENTITY, but it
    recreates the table and is much slower than a DELETE, so a table whose counter
    never moved is left alone. A table without AUTO_INCREMENT gets a DELETE. MariaDB
    rejects both on a table that a foreign key references unless the checks are off.
    """
    result = await connection.execute(
        text(
            "SELECT table_name, auto_increment FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        )
    )
    await connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
    for name, next_id in result.all():
        if name not in tables:
            continue
        if next_id is None:
            await connection.execute(text(f"DELETE FROM `{name}`"))
        elif next_id > 1:
            await connection.execute(text(f"TRUNCATE TABLE `{name}`"))
    await connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as http:
        yield http


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session on the app's database; the test commits what it sets up."""
    async with app.state.database.sessionmaker() as db_session:
        yield db_session


@pytest.fixture
async def user(session: AsyncSession) -> User:
    """A verified user, committed."""
    created = await create_user(session)
    await session.commit()
    return created


@pytest.fixture
async def admin(session: AsyncSession) -> User:
    """A verified admin, committed."""
    created = await create_admin(session)
    await session.commit()
    return created


@pytest.fixture
def samples_dir() -> Path:
    """The folder of real-world media and settings samples, or skip."""
    if not (SAMPLES_DIR / "media").is_dir():
        pytest.skip(f"real-world samples not found in {SAMPLES_DIR}")
    return SAMPLES_DIR


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code on a loop of its own in a thread.

    `asyncio.run` in the main thread would reset the event loop pytest-asyncio set.
    """
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()
