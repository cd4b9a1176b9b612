"""The dialect-specific SQL of billing, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_ignoring_duplicates(
    session: AsyncSession, table: Table, values: dict[str, Any]
) -> None:
    """Insert a row unless one with the same unique key exists (or is being added).

    Two transactions creating the same row at once both succeed: the second waits
    for the first and then inserts nothing.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(
            postgresql.insert(table).values(**values).on_conflict_do_nothing()
        )
    elif dialect == "sqlite":
        await session.execute(
            sqlite.insert(table).values(**values).on_conflict_do_nothing()
        )
    else:
        await session.execute(
            mysql.insert(table).values(**values).prefix_with("IGNORE")
        )
