"""Run Alembic programmatically (CLI `migrate`, `make run`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def alembic_config(database_url: str) -> Config:
    ini = PROJECT_ROOT / "alembic.ini"
    if not ini.exists():
        raise FileNotFoundError(
            f"alembic.ini not found at {ini}; install the project in editable mode"
        )
    config = Config(str(ini))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to `revision`. Blocks; call it outside an event loop."""
    command.upgrade(alembic_config(database_url), revision)
