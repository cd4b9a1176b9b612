"""A live API process and a `mage-studio worker` process for end-to-end tests.

The server runs `python -m mage_studio.cli serve` on a free loopback port with a
fresh SQLite database (migrated and seeded through the CLI) and no embedded
workers. The worker is a separate process with a token from `mage-studio
worker-token create`. Tests talk to both over real HTTP.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

START_SECONDS = 60.0
PASSWORD = "live console password"
SMALL_SIDE = 64
SLOW_MODEL = "Dreamshaper 8"
"""Model kept at 512x512 so a full render lasts long enough to steer it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_clip(path: Path, frames: int = 24, side: int = 64) -> Path:
    """Write a small H.264 MP4 of a moving gradient."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(24))
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        ramp = np.linspace(0, 255, side, dtype=np.uint8)
        for index in range(frames):
            image = np.zeros((side, side, 3), dtype=np.uint8)
            image[..., 0] = np.roll(ramp, index * 2)[None, :]
            image[..., 1] = ramp[:, None]
            image[..., 2] = (index * 10) % 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@dataclass
class LiveStack:
    """The server and worker processes, and a user of the server."""

    base_url: str
    env: dict[str, str]
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "mage_studio.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "mage_studio.cli", *args],
            env=env or self.env,
            stdout=log,
            stderr=log,
        )
        log.close()
        self.processes.append(process)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, self.base_url + path, headers=self.headers, timeout=30, **kwargs
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def wait_for_status(
        self, job_id: int, wanted: set[str], timeout: float = 90.0
    ) -> Any:
        deadline = time.monotonic() + timeout
        status: Any = None
        while time.monotonic() < deadline:
            status = self.call("GET", f"/status/{job_id}")
            if status["status"] in wanted:
                return status
            assert status["status"] not in {"error", "cancelled"}, status
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not reach {wanted}: {status}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _environment(folder: Path, port: int) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("MAGE_")
    }
    env.update(
        {
            "MAGE_ENV": "development",
            "MAGE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'live.db'}",
            "MAGE_STORAGE_PATH": str(folder / "storage"),
            "MAGE_LOG_PATH": str(folder / "log"),
            "MAGE_HOST": "127.0.0.1",
            "MAGE_PORT": str(port),
            "MAGE_EMBEDDED_WORKERS": "0",
            "MAGE_RATE_LIMIT_ENABLED": "false",
            "MAGE_JWT_SECRET": "live-secret-that-is-long-enough-for-hs256-0123456789",
            "MAGE_HEARTBEAT_SECONDS": "1",
            "MAGE_QUEUE_SNAPSHOT_SECONDS": "1",
            "MAGE_SSE_POLL_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _prepare_catalog(database: Path) -> None:
    """Make renders free, and every model but SLOW_MODEL tiny (test database)."""
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE render_models SET credits_per_frame = 0")
        connection.execute(
            "UPDATE render_models SET width = ?, height = ? WHERE name != ?",
            (SMALL_SIDE, SMALL_SIDE, SLOW_MODEL),
        )


def _wait_until_up(stack: LiveStack) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if stack.processes[0].poll() is not None:
            raise AssertionError(f"the API server exited:\n{stack.log('server')}")
        try:
            if httpx.get(f"{stack.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the API server did not start:\n{stack.log('server')}")


def _register(stack: LiveStack) -> str:
    email = f"console-{time.monotonic_ns()}@example.com"
    body = {"email": email, "password": PASSWORD, "password_confirmation": PASSWORD}
    registered = httpx.post(f"{stack.base_url}/api/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    login = httpx.post(
        f"{stack.base_url}/api/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    token: str = login.json()["data"]["accessToken"]
    return token


@contextmanager
def live_stack(folder: Path) -> Iterator[LiveStack]:
    """Start the API server and one preview-backend worker; stop both after."""
    port = free_port()
    stack = LiveStack(f"http://127.0.0.1:{port}", _environment(folder, port), folder)
    stack.cli("migrate")
    stack.cli("seed")
    _prepare_catalog(folder / "live.db")
    output = stack.cli("worker-token", "create", "live-worker")
    worker_token = next(line for line in output.splitlines() if line.startswith("mwt_"))
    try:
        stack.spawn("server", "serve")
        _wait_until_up(stack)
        stack.spawn(
            "worker",
            "worker",
            "--api",
            stack.base_url,
            "--name",
            "live-worker",
            "--no-progress",
            "--claim-wait",
            "1",
            "--workdir",
            str(folder / "work"),
            env={**stack.env, "MAGE_WORKER_TOKEN": worker_token},
        )
        stack.token = _register(stack)
        yield stack
    finally:
        stack.stop()
