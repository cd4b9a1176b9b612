"""Embedded render workers: started with the API, rendering over loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
from fractions import Fraction
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from mage_studio.app import create_app
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue.models import WorkerToken
from mage_studio.render.backends import PreviewBackend
from mage_studio.workers.embedded import loopback_url, worker_name
from mage_studio.workers.hooks import create_embedded_workers
from mage_studio.workers.transport import SwitchableTransport
from tests.conftest import empty_tables, make_settings
from tests.factories import create_user
from tests.queue.factories import create_job, create_model
from tests.render.render_factories import write_video

TIMEOUT = 60.0
"""Safety limit for waits, far above the normal duration of these tests."""
SOURCE_KEY = "uploads/2026/01/01/embedded-source.mp4"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _queue_job(app: FastAPI, storage_root: Path) -> int:
    source = storage_root / SOURCE_KEY
    source.parent.mkdir(parents=True, exist_ok=True)
    write_video(source, width=64, height=48, frames=6, rate=Fraction(12))
    async with app.state.database.session() as session:
        user = await create_user(session)
        model = await create_model(session, width=64, height=64, credits_per_frame=0)
        job = await create_job(
            session,
            user,
            model_id=model.id,
            width=64,
            height=48,
            fps_num=12,
            fps_den=1,
            frame_count=6,
            source_frame_count=6,
            source_key=SOURCE_KEY,
        )
        return job.id


async def _job(app: FastAPI, job_id: int) -> VideoJob:
    async with app.state.database.session() as session:
        job = await session.get(VideoJob, job_id)
        assert job is not None
        return job


async def _wait_for_status(app: FastAPI, job_id: int, status: str) -> VideoJob:
    async def poll() -> VideoJob:
        while True:
            job = await _job(app, job_id)
            if job.status == status:
                return job
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(poll(), TIMEOUT)


@pytest.fixture
async def embedded_app(database_url: str, storage_root: Path) -> FastAPI:
    port = _free_port()
    settings = make_settings(
        database_url,
        storage_root,
        embedded_workers=1,
        host="127.0.0.1",
        port=port,
        heartbeat_seconds=1,
    )
    app = create_app(settings)
    yield app  # type: ignore[misc]
    await empty_tables(app.state.database)
    await app.state.database.dispose()


async def test_embedded_worker_renders_queued_job(
    embedded_app: FastAPI, storage_root: Path
) -> None:
    job_id = await _queue_job(embedded_app, storage_root)
    settings = embedded_app.state.settings
    server = uvicorn.Server(
        uvicorn.Config(
            embedded_app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            lifespan="on",
        )
    )

    serving = asyncio.create_task(server.serve())
    try:
        job = await _wait_for_status(embedded_app, job_id, JobStatus.FINISHED.value)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, TIMEOUT)

    assert job.video_key is not None
    assert job.lease_owner is None
    async with embedded_app.state.database.session() as session:
        names = list(await session.scalars(select(WorkerToken.name)))
    assert names == [f"embedded@{socket.gethostname()}:{settings.port}"]


async def test_embedded_worker_releases_job_on_stop(
    embedded_app: FastAPI, storage_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered = asyncio.Event()
    loop = asyncio.get_running_loop()
    release = threading.Event()

    def blocking_img2img(self: PreviewBackend, image: object, *args: object) -> object:
        # Stands in for a slow generation that only an interrupt ends.
        loop.call_soon_threadsafe(entered.set)
        release.wait(TIMEOUT)
        return image

    monkeypatch.setattr(PreviewBackend, "img2img", blocking_img2img)
    monkeypatch.setattr(PreviewBackend, "interrupt", lambda self: release.set())
    monkeypatch.setattr("mage_studio.workers.embedded.GRACE_SECONDS", 0.1)
    job_id = await _queue_job(embedded_app, storage_root)
    settings = embedded_app.state.settings
    server = uvicorn.Server(
        uvicorn.Config(
            embedded_app, host=settings.host, port=settings.port, log_config=None
        )
    )

    serving = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(entered.wait(), TIMEOUT)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, TIMEOUT)
        release.set()

    job = await _job(embedded_app, job_id)
    assert job.status == JobStatus.APPROVED.value
    assert job.retries == 1
    assert job.lease_owner is None


@pytest.mark.parametrize(("count", "installed"), [(0, False), (2, True)])
def test_install_follows_setting(
    database_url: str, storage_root: Path, count: int, installed: bool
) -> None:
    app = create_app(make_settings(database_url, storage_root, embedded_workers=count))

    factories = app.state.service_factories

    assert (create_embedded_workers in factories) is installed


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("0.0.0.0", "http://127.0.0.1:8123"),
        ("::", "http://[::1]:8123"),
        ("::1", "http://[::1]:8123"),
        ("localhost", "http://localhost:8123"),
    ],
)
def test_loopback_url(
    database_url: str, storage_root: Path, host: str, url: str
) -> None:
    settings = make_settings(database_url, storage_root, host=host, port=8123)

    assert loopback_url(settings) == url
    assert worker_name(settings) == f"embedded@{socket.gethostname()}:8123"


async def test_switchable_transport_moves_to_fallback() -> None:
    def answer(text: str) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: httpx.Response(200, text=text))

    transport = SwitchableTransport(answer("network"), answer("in process"))
    async with httpx.AsyncClient(transport=transport) as client:
        before = (await client.get("http://x/")).text
        transport.switch()
        after = (await client.get("http://x/")).text

    assert (before, after) == ("network", "in process")
