"""The embedded render workers: the worker client over loopback, in the API process.

They use the same protocol, client and runner as `mage-studio worker`, with a
worker token created at startup. The server accepts connections only after the
app's startup hooks ran, so the first claims fail to connect and are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket

import httpx
import structlog
from fastapi import FastAPI

from mage_studio.config import Settings
from mage_studio.queue.tokens import issue_embedded_worker_token
from mage_studio.render.backends import Backend, create_backend
from mage_studio.render.client import WorkerClient, WorkerUnauthorized
from mage_studio.render.runner import Worker
from mage_studio.render.slots import WorkerConfig
from mage_studio.workers.transport import SwitchableTransport

log = structlog.get_logger(__name__)

CLAIM_WAIT_SECONDS = 5.0
"""Short long-polls: on SIGTERM the server first waits for open requests (a claim
in progress included) and only then runs the shutdown that stops the workers."""
GRACE_SECONDS = 5.0
"""How long a running job may take to finish when the API process stops."""
STOP_TIMEOUT_SECONDS = 30.0


def loopback_url(settings: Settings) -> str:
    """Return the URL at which this process's own server is reachable.

    A wildcard listen address (0.0.0.0, ::) is reached through the loopback
    address of its family.
    """
    host = settings.host.strip("[]")
    if host in ("", "0.0.0.0"):  # noqa: S104 - a listen address, not a bind
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def worker_name(settings: Settings) -> str:
    """Return a name that is stable across restarts and unique per host and port."""
    return f"embedded@{socket.gethostname()}:{settings.port}"


class EmbeddedWorkers:
    """Background service running `settings.workers_in_process` worker slots."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.settings: Settings = app.state.settings
        self.worker: Worker | None = None
        self.client: WorkerClient | None = None
        self.transport: SwitchableTransport | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        settings = self.settings
        try:
            create_backend(settings.render_backend, url=settings.a1111_url).close()
        except ValueError as exc:
            log.error("embedded_workers_not_started", error=str(exc))
            return

        token = await issue_embedded_worker_token(
            self.app.state.database, settings.port
        )
        self.client = self._client(token)
        config = WorkerConfig(
            name=worker_name(settings),
            concurrency=settings.workers_in_process,
            claim_wait=CLAIM_WAIT_SECONDS,
            grace_seconds=GRACE_SECONDS,
        )
        self.worker = Worker(self.client, self._backend, config)
        self.task = asyncio.create_task(self._run())
        log.info(
            "embedded_workers_started",
            slots=settings.workers_in_process,
            backend=settings.render_backend,
            api=self.client.api_url,
        )

    def _client(self, token: str) -> WorkerClient:
        base = loopback_url(self.settings)
        self.transport = SwitchableTransport(
            httpx.AsyncHTTPTransport(),
            httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
        )
        # Signed media links point at the public URL, so fetch them over loopback.
        public = self.settings.base_url
        rewrites = {public: base} if public != base else {}
        return WorkerClient(
            base, token, transport=self.transport, url_rewrites=rewrites
        )

    def _backend(self) -> Backend:
        return create_backend(self.settings.render_backend, url=self.settings.a1111_url)

    async def _run(self) -> None:
        assert self.worker is not None
        try:
            await self.worker.run()
        except WorkerUnauthorized as exc:
            # An admin revoked the embedded token: the API keeps serving.
            log.error("embedded_workers_stopped", error=exc.message)

    async def stop(self) -> None:
        if self.worker is None or self.task is None:
            return
        assert self.transport is not None
        assert self.client is not None
        self.transport.switch()
        self.worker.request_shutdown()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            log.error(
                "embedded_workers_stop_timed_out", running=sorted(self.worker.active)
            )
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.close()
        log.info("embedded_workers_stopped")
