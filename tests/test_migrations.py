"""Models and migrations must not drift apart."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.engine import Connection

from mage_studio.models import metadata


def _diff(connection: Connection, target: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "render_as_batch": True}
    )
    return list(compare_metadata(context, target))


async def test_migrations_match_models(app: FastAPI) -> None:
    async with app.state.database.engine.connect() as connection:
        diff = await connection.run_sync(_diff, metadata)
    assert diff == []


async def test_drift_check_detects_a_new_table(app: FastAPI) -> None:
    extended = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(extended)
    Table("drift_probe", extended, Column("id", Integer, primary_key=True))
    async with app.state.database.engine.connect() as connection:
        diff = await connection.run_sync(_diff, extended)
    assert [entry[0] for entry in diff] == ["add_table"]
