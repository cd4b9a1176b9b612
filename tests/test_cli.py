"""The `mage-studio` command line, run as a real process."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CLI = [sys.executable, "-m", "mage_studio.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "MAGE_ENV": "development",
        "MAGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "MAGE_STORAGE_PATH": str(tmp_path / "storage"),
        "MAGE_LOG_PATH": str(tmp_path / "log"),
        "MAGE_EMBEDDED_WORKERS": "0",
    }
    env.update(extra)
    return env


def _run(
    tmp_path: Path, *args: str, stdin: str = "", **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(tmp_path, **extra),
        timeout=120,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_migrate_and_seed_are_repeatable(tmp_path: Path) -> None:
    for _ in range(2):
        migrated = _run(tmp_path, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        seeded = _run(tmp_path, "seed")
        assert seeded.returncode == 0, seeded.stderr


def test_create_admin_reads_password_from_stdin(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    secret = "s3cret-admin-password"
    created = _run(
        tmp_path, "create-admin", "Boss@Example.com", "--password-stdin", stdin=secret
    )
    assert created.returncode == 0, created.stderr
    assert secret not in created.stdout + created.stderr
    with sqlite3.connect(tmp_path / "cli.db") as connection:
        row = connection.execute(
            "SELECT u.email, u.password_hash, r.role FROM users u "
            "JOIN user_roles r ON r.user_id = u.id WHERE r.role = 'admin'"
        ).fetchone()
    assert row[0] == "boss@example.com"
    assert row[1].startswith("$argon2id$")
    assert secret not in row[1]


def test_create_admin_rejects_short_password(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    result = _run(
        tmp_path, "create-admin", "a@example.com", "--password-stdin", stdin="short"
    )
    assert result.returncode == 2
    assert "at least 8" in result.stderr


def test_production_settings_refusal_exits_with_message(tmp_path: Path) -> None:
    result = _run(tmp_path, "migrate", MAGE_ENV="production")
    assert result.returncode == 2
    assert "MAGE_JWT_SECRET" in result.stderr


def test_log_clear_empties_log_files(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    (log_dir / "mage-studio.log").write_text("old line\n")
    result = _run(tmp_path, "log", "clear")
    assert result.returncode == 0, result.stderr
    assert (log_dir / "mage-studio.log").read_text() == ""


def test_serve_answers_health_and_docs(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    port = _free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None, "the server did not start"
        assert health.json() == {"status": "ok"}
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5)
        assert docs.status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/docs" in output


@pytest.mark.parametrize("command", ["--help", "serve --help", "log --help"])
def test_help_lists_commands(tmp_path: Path, command: str) -> None:
    result = _run(tmp_path, *command.split())
    assert result.returncode == 0
    assert "Usage" in result.stdout
