"""Factories and helpers for realtime tests: jobs, worker tokens, SSE parsing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mage_studio.core.db import utcnow
from mage_studio.jobs.models import JobStatus, VideoJob
from mage_studio.queue import tokens
from mage_studio.users.models import User


async def create_job(
    session: AsyncSession,
    user: User,
    *,
    status: str = JobStatus.PROCESSING.value,
    generator: str = "deforum",
    **values: Any,
) -> VideoJob:
    """Insert a Deforum job (rendering, attempt 1, unless told otherwise) and flush."""
    now = utcnow()
    fields: dict[str, Any] = {
        "user_id": user.id,
        "generator": generator,
        "status": status,
        "render_kind": "full",
        "render_frames": 24,
        "queue_name": "low",
        "priority": 2,
        "queued_at": now,
        "attempt": 1 if status == JobStatus.PROCESSING.value else 0,
        "prompt": "a lighthouse at dusk",
        "seed": 42,
        "width": 64,
        "height": 64,
        "fps_num": 24,
        "fps_den": 1,
        "frame_count": 24,
        "length": 1.0,
    }
    if status == JobStatus.PROCESSING.value:
        fields.update(lease_owner="gpu-test", lease_expires_at=now, started_at=now)
    fields.update(values)
    job = VideoJob(**fields)
    session.add(job)
    await session.flush()
    return job


async def create_worker_token(session: AsyncSession) -> str:
    issued = await tokens.create_token(session, "realtime-test")
    return issued.token


@dataclass
class ServerEvent:
    event: str
    data: Any
    id: str | None
    retry: int | None = None


@dataclass
class EventReader:
    """Reads server-sent events from a streaming httpx response."""

    response: httpx.Response
    comments: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lines = self.response.aiter_lines()

    async def next(self, timeout: float = 10.0) -> ServerEvent:
        return await asyncio.wait_for(self._read(), timeout)

    async def until(self, name: str, timeout: float = 15.0) -> list[ServerEvent]:
        """Read events up to and including the first one called `name`."""
        seen: list[ServerEvent] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self._read()
                seen.append(event)
                if event.event == name:
                    return seen

    async def rest(self, timeout: float = 15.0) -> list[ServerEvent]:
        """Read every event until the server ends the stream."""
        seen: list[ServerEvent] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    seen.append(await self._read())
                except StopAsyncIteration:
                    return seen

    async def comment(self, timeout: float = 10.0) -> str:
        """Read until the next comment line (a keep-alive) and return its text."""
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line.startswith(":"):
                    return line[1:].strip()
        raise AssertionError("the stream ended without a comment")

    async def _read(self) -> ServerEvent:
        name, event_id, retry = "message", None, None
        data: list[str] = []
        async for line in self._lines:
            if not line:
                if data:
                    return ServerEvent(
                        name, json.loads("\n".join(data)), event_id, retry
                    )
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                event_id = value
            elif key == "retry":
                retry = int(value)
        raise StopAsyncIteration


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[EventReader]:
    """Open an event stream; the response must be a 200 text/event-stream."""
    all_headers = {"Accept": "text/event-stream", **(headers or {})}
    async with client.stream("GET", url, headers=all_headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventReader(response)


@contextlib.asynccontextmanager
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in this event loop; yield its URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="on", ws="none"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


def events_url(job_id: int) -> str:
    return f"/api/video-jobs/{job_id}/events"
