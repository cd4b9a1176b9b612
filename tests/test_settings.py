from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mage_studio.config import DEFAULT_JWT_SECRET, Environment, Settings

POSTGRES = "postgresql+asyncpg://mage@db/mage"
PRIVATE_SECRET = "a-private-secret-of-at-least-32-bytes-xyz"


def test_production_rejects_default_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="MAGE_JWT_SECRET"):
        Settings(env=Environment.PRODUCTION, database_url=POSTGRES)


def test_production_rejects_short_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(env=Environment.PRODUCTION, database_url=POSTGRES, jwt_secret="short")


def test_production_rejects_sqlite() -> None:
    with pytest.raises(ValidationError, match="MAGE_DATABASE_URL"):
        Settings(env=Environment.PRODUCTION, jwt_secret=PRIVATE_SECRET)


def test_production_accepts_private_secret_and_postgres() -> None:
    settings = Settings(
        env=Environment.PRODUCTION, database_url=POSTGRES, jwt_secret=PRIVATE_SECRET
    )
    assert settings.workers_in_process == 0
    assert settings.json_logs is True


def test_development_allows_defaults() -> None:
    settings = Settings(env=Environment.DEVELOPMENT)
    assert settings.jwt_secret == DEFAULT_JWT_SECRET
    assert settings.workers_in_process == 1


def test_environment_prefix_and_unprefixed_queue_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAGE_PORT", "9001")
    monkeypatch.setenv("HIGH_PRIORITY_QUEUE", "urgent")
    monkeypatch.setenv("MAGE_LOW_PRIORITY_QUEUE", "bulk")
    settings = Settings()
    assert settings.port == 9001
    assert settings.high_priority_queue == "urgent"
    assert settings.low_priority_queue == "bulk"
    assert settings.medium_priority_queue == "medium"


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MAGE_HOST=0.0.0.0\nMAGE_EMBEDDED_WORKERS=3\n")
    settings = Settings()
    assert settings.host == "0.0.0.0"
    assert settings.workers_in_process == 3


def test_every_setting_is_described() -> None:
    missing = [
        name for name, field in Settings.model_fields.items() if not field.description
    ]
    assert missing == []
