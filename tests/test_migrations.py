"""Models and migrations must not drift apart."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.engine import Connection

from mage_studio.models import metadata
from mage_studio.users.models import login_key

VERSIONS = Path(__file__).resolve().parents[1] / "migrations" / "versions"


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


def _migration(name: str) -> ModuleType:
    path = next(VERSIONS.glob(f"*_{name}.py"))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_login_key_migration_renames_lookalikes() -> None:
    migration = _migration("add_users_login_key")
    rows = [
        (1, "Painter"),
        (2, "painter"),
        (3, "painter-2"),
        (4, "\uff30\uff41\uff49\uff4e\uff54\uff45\uff52"),
        (5, "x" * 255),
        (6, "X" * 255),
    ]

    result = migration._unique_logins(rows)

    assert result[1] == ("Painter", login_key("Painter"))
    assert result[2][0] == "painter-2-2"
    assert result[3][0] == "painter-2"
    assert result[4][0] == "\uff30\uff41\uff49\uff4e\uff54\uff45\uff52-4"
    assert result[5][0] == "x" * 255
    assert result[6][0] == "X" * 253 + "-6"
    assert len({key for _, key in result.values()}) == len(rows)
    assert all(key == login_key(login) for login, key in result.values())
