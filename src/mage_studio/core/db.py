"""Async engine, sessions and the declarative base.

SQLite runs in WAL mode with foreign keys and a busy timeout, and every transaction
starts with `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes fails
at once with "database is locked" when another writer committed in between, while an
immediate one waits for the lock. PostgreSQL runs through asyncpg, MariaDB through
asyncmy at READ COMMITTED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Float, MetaData, event, make_url
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Dialect, ExceptionContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator, TypeEngine

# SQLAlchemy's dialect name for MariaDB: "mysql" for a mysql+asyncmy URL, "mariadb"
# for a mariadb+asyncmy URL.
MYSQL_DIALECTS = frozenset({"mysql", "mariadb"})
# A double-precision float on every dialect. Float already is one on PostgreSQL and
# SQLite, but MariaDB's FLOAT is single precision (about 7 significant digits).
Float64 = Float().with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
# MariaDB's ER_CONSTRAINT_FAILED: a row failed a CHECK constraint.
MYSQL_CHECK_CONSTRAINT_FAILED = 4025

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        # Hand transaction control to the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_mysql(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        # MariaDB reports a failed CHECK constraint as error 4025, which the driver
        # raises as an OperationalError. Raise it as the IntegrityError that
        # PostgreSQL and SQLite give.
        original = context.original_exception
        if not original.args or original.args[0] != MYSQL_CHECK_CONSTRAINT_FAILED:
            return None
        return IntegrityError(context.statement, context.parameters, original)


def _ensure_sqlite_folder(url: str) -> None:
    path = make_url(url).database
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


class Database:
    """One engine and its session factory."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        busy_timeout_ms: int = 10_000,
        null_pool: bool = False,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.dialect = "sqlite" if self.is_sqlite else url.split("+")[0].split(":")[0]
        kwargs: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
        if self.dialect in MYSQL_DIALECTS:
            # MariaDB defaults to REPEATABLE READ, where a transaction's plain reads
            # keep the snapshot of its first read, so a row that a concurrent
            # transaction commits stays invisible to it (INSERT IGNORE then SELECT
            # finds nothing). The queries here expect PostgreSQL's default, READ
            # COMMITTED, where each statement reads the latest committed rows.
            kwargs["isolation_level"] = "READ COMMITTED"
        if self.is_sqlite:
            _ensure_sqlite_folder(url)
            # A fresh connection per checkout keeps aiosqlite threads short-lived.
            kwargs["poolclass"] = NullPool
            kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000}
        elif null_pool:
            kwargs["poolclass"] = NullPool
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            kwargs["pool_timeout"] = 10
        self.engine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
        elif self.dialect in MYSQL_DIALECTS:
            _configure_mysql(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Open a session that commits on success and rolls back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC on every dialect.

    SQLite and MariaDB have no time zone type and return naive values; they are read
    back as UTC. MariaDB's DATETIME drops fractions of a second unless declared with
    a precision, so it gets DATETIME(6), the microseconds Python keeps.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(
        self, value: datetime | None, dialect: Any
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite" or dialect.name in MYSQL_DIALECTS:
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: datetime | None, dialect: Any
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, default=utcnow, onupdate=utcnow
    )
