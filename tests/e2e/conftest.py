"""Live processes for end-to-end tests: the API server and render workers.

The server runs `python -m mage_studio.cli serve` on a free loopback port with a
fresh SQLite database (migrated and seeded through the CLI) and without embedded
workers. Workers are separate `mage-studio worker` processes using a token made
with `mage-studio worker-token create`. Everything talks real HTTP.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.helpers import ApiUser, register_user
from tests.e2e.processes import (
    LiveServer,
    adjust_models,
    environment,
    free_port,
    stop,
    token_from,
    wait_until_up,
)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A migrated, seeded API server process and a worker for the small models.

    Tests that need their own workers render with the slow model, which only
    their workers serve.
    """
    folder = tmp_path_factory.mktemp("e2e")
    port = free_port()
    env = environment(folder, port)
    setup = LiveServer(
        base_url=f"http://127.0.0.1:{port}",
        env=env,
        database=folder / "e2e.db",
        folder=folder,
        process=None,  # type: ignore[arg-type]
    )
    setup.cli("migrate")
    setup.cli("seed")
    setup.model_names = adjust_models(setup.database)
    with (folder / "server.log").open("ab") as log:
        setup.process = subprocess.Popen(
            [sys.executable, "-m", "mage_studio.cli", "serve"],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        setup.worker_token = token_from(setup.cli("worker-token", "create", "e2e"))
        setup.start_worker("e2e-main", "--models", ",".join(setup.fast_models))
        wait_until_up(setup)
        yield setup
    finally:
        setup.stop_workers()
        stop(setup.process)


@pytest.fixture
def api_user(live_server: LiveServer) -> Iterator[ApiUser]:
    """A freshly registered user with sign-up credits, logged in over HTTP."""
    with httpx.Client(base_url=live_server.base_url, timeout=60) as http:
        yield register_user(http)


@pytest.fixture
def worker_factory(
    live_server: LiveServer,
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start workers for the slow model; they are killed when the test ends."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        process = live_server.start_worker(
            name, "--models", live_server.slow_model, *args
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
