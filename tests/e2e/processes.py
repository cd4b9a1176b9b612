"""The API server and render worker processes of the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

SERVER_START_SECONDS = 60.0
LEASE_SECONDS = 5
SMALL_SIDE = 128
"""Render size of the test models, so full renders take a fraction of a second."""
FAST_MODEL = "Stable Diffusion 1.5"
SLOW_MODEL = "Dreamshaper 8"
"""Model for renders that must last long enough to interrupt."""
SLOW_SIDE = 256


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """The API process and what the tests need to reach and inspect it."""

    base_url: str
    env: dict[str, str]
    database: Path
    folder: Path
    process: subprocess.Popen[bytes]
    worker_token: str = ""
    model_names: dict[str, str] = field(default_factory=dict)
    """Test names of the seeded models, by their catalog names."""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def fast_model(self) -> str:
        return self.model_names[FAST_MODEL]

    @property
    def slow_model(self) -> str:
        return self.model_names[SLOW_MODEL]

    @property
    def fast_models(self) -> list[str]:
        return sorted(
            name for old, name in self.model_names.items() if old != SLOW_MODEL
        )

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run `mage-studio ARGS` against this server's settings; return stdout."""
        result = subprocess.run(
            [sys.executable, "-m", "mage_studio.cli", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        """Read the server's database directly (for checks the API does not expose)."""
        with sqlite3.connect(self.database, timeout=30) as connection:
            return connection.execute(sql, params).fetchall()

    def start_worker(
        self, name: str, *args: str, token: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a `mage-studio worker` process; its log goes to the server folder."""
        log = (self.folder / f"worker-{name}.log").open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mage_studio.cli",
                "worker",
                "--api",
                self.base_url,
                "--name",
                name,
                "--no-progress",
                "--claim-wait",
                "2",
                "--workdir",
                str(self.folder / "work"),
                *args,
            ],
            env={**self.env, "MAGE_WORKER_TOKEN": token or self.worker_token},
            stdout=log,
            stderr=log,
        )
        log.close()
        self.workers.append(process)
        return process

    def worker_log(self, name: str) -> str:
        path = self.folder / f"worker-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        self.workers.clear()


def environment(folder: Path, port: int) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("MAGE_")
    }
    env.update(
        {
            "MAGE_ENV": "development",
            "MAGE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'e2e.db'}",
            "MAGE_STORAGE_PATH": str(folder / "storage"),
            "MAGE_LOG_PATH": str(folder / "log"),
            "MAGE_HOST": "127.0.0.1",
            "MAGE_PORT": str(port),
            "MAGE_EMBEDDED_WORKERS": "0",
            "MAGE_RATE_LIMIT_ENABLED": "false",
            "MAGE_JWT_SECRET": "e2e-secret-that-is-long-enough-for-hs256-0123456789",
            "MAGE_LEASE_SECONDS": str(LEASE_SECONDS),
            "MAGE_HEARTBEAT_SECONDS": "1",
            "MAGE_REAPER_INTERVAL_SECONDS": "1",
            "MAGE_MAX_ATTEMPTS": "5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def adjust_models(database: Path) -> dict[str, str]:
    """Make the seeded models small and claimable by name (test database only).

    The catalog names contain spaces, which worker claims cannot send, so each
    model is renamed `e2e-<id>`. Returns the new names by old name.
    """
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE render_models SET width = ?, height = ? WHERE name != ?",
            (SMALL_SIDE, SMALL_SIDE, SLOW_MODEL),
        )
        connection.execute(
            "UPDATE render_models SET width = ?, height = ? WHERE name = ?",
            (SLOW_SIDE, SLOW_SIDE, SLOW_MODEL),
        )
        rows = connection.execute("SELECT id, name FROM render_models").fetchall()
        names = {name: f"e2e-{model_id}" for model_id, name in rows}
        for old, new in names.items():
            connection.execute(
                "UPDATE render_models SET name = ? WHERE name = ?", (new, old)
            )
    return names


def wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (server.folder / "server.log").read_text(errors="replace")
            pytest.fail(f"the API server exited early:\n{log[-4000:]}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("the API server did not answer /health in time")


def token_from(output: str) -> str:
    # NOTE: the command also prints log lines on stdout; the token is its own line.
    tokens = [line for line in output.splitlines() if line.startswith("mwt_")]
    assert len(tokens) == 1, output
    return tokens[0]


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
