"""Two API processes sharing Redis: an event reported to one reaches a stream on
the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.app import create_app
from mage_studio.config import Settings
from mage_studio.jobs.models import JobStatus
from mage_studio.users.models import User
from tests.conftest import make_settings
from tests.factories import auth_headers
from tests.realtime.factories import (
    create_job,
    create_worker_token,
    live_server,
    open_stream,
)
from tests.realtime.test_event_bus import REDIS_URL, _redis_or_skip

pytestmark = pytest.mark.redis


@pytest.fixture
def settings(database_url: str, storage_root: Path) -> Settings:
    return make_settings(
        database_url,
        storage_root,
        redis_url=REDIS_URL,
        sse_poll_seconds=60.0,
        sse_throttle_seconds=0.0,
        queue_snapshot_seconds=60.0,
        rate_limit_enabled=False,
    )


@pytest.fixture
async def other_app(settings: Settings) -> AsyncIterator[FastAPI]:
    await _redis_or_skip()
    second = create_app(settings)
    yield second
    await second.state.database.dispose()


async def test_worker_report_to_one_process_reaches_stream_on_another(
    app: FastAPI,
    other_app: FastAPI,
    session: AsyncSession,
    settings: Settings,
    owner: User,
) -> None:
    job = await create_job(session, owner, status=JobStatus.APPROVED.value)
    worker = {"Authorization": f"Bearer {await create_worker_token(session)}"}
    await session.commit()
    transport = httpx.ASGITransport(app=app)

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://a") as first,
        live_server(other_app) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as second,
    ):
        claim = await first.post(
            "/api/workers/claim",
            json={"worker_name": "gpu-a", "wait": 0},
            headers=worker,
        )
        assert claim.status_code == 200, claim.text
        stream_url = f"/api/video-jobs/{job.id}/events"
        headers = auth_headers(settings, owner)
        async with open_stream(second, stream_url, headers=headers) as sse:
            snapshot = await sse.next()
            beat = await first.post(
                f"/api/workers/jobs/{job.id}/heartbeat",
                json={"attempt": 1, "progress": 40, "frames_done": 4},
                headers=worker,
            )
            assert beat.status_code == 200, beat.text
            progress = await sse.next()
            await first.post(
                f"/api/workers/jobs/{job.id}/result",
                data={"attempt": "1", "frames_rendered": "4"},
                files={"video": ("out.mp4", b"mp4", "video/mp4")},
                headers=worker,
            )
            final = await sse.next()

    assert snapshot.data["status"] == "processing"
    assert progress.event == "progress"
    assert progress.data["progress"] == 40
    assert final.event == "final"
    assert final.data["status"] == "finished"
