"""An in-process stand-in for the API's worker routes and signed media downloads.

It is a small Starlette app for `httpx.ASGITransport`: claims hand out queued
job specs, heartbeats respond from a script (cancel, 409, steering), results and
failures are recorded with their parsed multipart fields, and `/media/<name>`
serves registered bytes. `status_script` fails the next requests of a path with
given status codes, to test retries.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mage_studio.render.client import WorkerClient

API_URL = "http://api.test"
TOKEN = "mwt_test-token"
HEARTBEAT_WAIT_SECONDS = 10.0


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "code": status}}, status)


@dataclass
class HeartbeatScript:
    """How the fake responds to the heartbeats of one job."""

    cancel_after: int | None = None
    """Respond cancel_requested from this many heartbeats on (1 = the first)."""
    lost_after: int | None = None
    """Respond 409 from this many heartbeats on."""
    steering: dict[str, Any] | None = None


@dataclass
class FakeWorkerApi:
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    media: dict[str, bytes] = field(default_factory=dict)
    scripts: dict[int, HeartbeatScript] = field(default_factory=dict)
    status_script: dict[str, deque[int]] = field(default_factory=dict)
    """Path -> status codes returned to its next requests instead of handling."""
    valid_token: str = TOKEN
    results_wait_for_heartbeat: bool = False
    """Hold each result upload until its job sent a heartbeat, so a job that renders
    faster than one heartbeat tick still reports progress."""
    claims: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    frames: list[dict[str, Any]] = field(default_factory=list)
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    failures: dict[int, dict[str, Any]] = field(default_factory=dict)
    reported: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever a result or failure arrives."""
    heartbeat_seen: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/workers/claim", self._claim, methods=["POST"]),
                Route(
                    "/api/workers/jobs/{job_id:int}/heartbeat",
                    self._heartbeat,
                    methods=["POST"],
                ),
                Route(
                    "/api/workers/jobs/{job_id:int}/frames",
                    self._frames,
                    methods=["POST"],
                ),
                Route(
                    "/api/workers/jobs/{job_id:int}/result",
                    self._result,
                    methods=["POST"],
                ),
                Route(
                    "/api/workers/jobs/{job_id:int}/fail", self._fail, methods=["POST"]
                ),
                Route("/media/{name}", self._media, methods=["GET"]),
            ]
        )

    def client(self, **options: Any) -> WorkerClient:
        transport = httpx.ASGITransport(app=self.app())
        return WorkerClient(
            API_URL,
            TOKEN,
            transport=transport,
            download_transport=transport,
            **options,
        )

    def add_media(self, name: str, data: bytes) -> str:
        self.media[name] = data
        return f"{API_URL}/media/{name}"

    def add_job(self, job_id: int, **spec: Any) -> None:
        self.queue.append(job_spec(job_id, **spec))

    # --- routes -----------------------------------------------------------------------

    def _scripted(self, request: Request) -> Response | None:
        codes = self.status_script.get(request.url.path)
        if codes:
            return error(codes.popleft(), "scripted failure")
        if request.url.path.startswith("/media/"):
            return None
        if request.headers.get("authorization") != f"Bearer {self.valid_token}":
            return error(401, "A valid worker token is required.")
        return None

    async def _claim(self, request: Request) -> Response:
        scripted = self._scripted(request)
        if scripted is not None:
            return scripted
        body = await request.json()
        self.claims.append(body)
        if not self.queue:
            await asyncio.sleep(0.02)  # a short long-poll, so idle workers do not spin
            return Response(status_code=204)
        return JSONResponse(self.queue.popleft())

    async def _heartbeat(self, request: Request) -> Response:
        scripted = self._scripted(request)
        if scripted is not None:
            return scripted
        job_id = request.path_params["job_id"]
        body = await request.json()
        beats = self.heartbeats.setdefault(job_id, [])
        beats.append(body)
        self.heartbeat_seen.set()
        script = self.scripts.get(job_id, HeartbeatScript())
        if script.lost_after is not None and len(beats) >= script.lost_after:
            return error(409, "This attempt no longer owns the job.")
        cancel = script.cancel_after is not None and len(beats) >= script.cancel_after
        return JSONResponse(
            {
                "cancel_requested": cancel,
                "lease_expires_at": _in_a_minute(),
                "steering": script.steering,
            }
        )

    async def _frames(self, request: Request) -> Response:
        scripted = self._scripted(request)
        if scripted is not None:
            return scripted
        form = await request.form()
        upload = form["frame"]
        assert not isinstance(upload, str)
        self.frames.append(
            {
                "job_id": request.path_params["job_id"],
                "index": int(str(form["index"])),
                "content_type": upload.content_type,
                "size": len(await upload.read()),
            }
        )
        return JSONResponse({"job_id": request.path_params["job_id"], "status": "x"})

    async def _result(self, request: Request) -> Response:
        scripted = self._scripted(request)
        if scripted is not None:
            return scripted
        job_id = request.path_params["job_id"]
        if self.results_wait_for_heartbeat:
            await self._heartbeat_from(job_id)
        form = await request.form()
        files = {}
        for name, value in form.multi_items():
            if not isinstance(value, str):
                files[name] = await value.read()
        self.results[job_id] = {
            "attempt": int(str(form["attempt"])),
            "frames_rendered": int(str(form["frames_rendered"])),
            "metadata": json.loads(str(form["metadata"])),
            "files": files,
        }
        self.reported.set()
        return JSONResponse({"job_id": job_id, "status": "finished"})

    async def _heartbeat_from(self, job_id: int) -> None:
        async with asyncio.timeout(HEARTBEAT_WAIT_SECONDS):
            while not self.heartbeats.get(job_id):
                await asyncio.sleep(0.01)

    async def _fail(self, request: Request) -> Response:
        scripted = self._scripted(request)
        if scripted is not None:
            return scripted
        job_id = request.path_params["job_id"]
        self.failures[job_id] = await request.json()
        self.reported.set()
        return JSONResponse({"job_id": job_id, "status": "error"})

    async def _media(self, request: Request) -> Response:
        scripted = self._scripted(request)
        if scripted is not None:
            return scripted
        data = self.media.get(request.path_params["name"])
        if data is None:
            return error(404, "The file does not exist.")
        return Response(data, media_type="application/octet-stream")


def _in_a_minute() -> str:
    return (datetime.now(UTC) + timedelta(minutes=1)).isoformat()


def job_spec(
    job_id: int,
    *,
    generator: str = "vid2vid",
    render: str = "full",
    source_url: str | None = None,
    source_kind: str = "video",
    frame_count: int = 4,
    deforum: dict[str, Any] | None = None,
    steering: dict[str, Any] | None = None,
    width: int | None = 64,
    height: int | None = 48,
    attempt: int = 1,
    heartbeat_interval: float = 1.0,
) -> dict[str, Any]:
    """Return a claim answer (a JobSpec as JSON) for a small render."""
    return {
        "job_id": job_id,
        "attempt": attempt,
        "lease_expires_at": _in_a_minute(),
        "heartbeat_interval": heartbeat_interval,
        "render": render,
        "generator": generator,
        "model": {
            "id": 1,
            "name": "test-model",
            "backend_name": "test.safetensors",
            "base": "sd15",
            "width": 64,
            "height": 64,
        },
        "params": {
            "prompt": "a lighthouse",
            "negative_prompt": "",
            "seed": 5,
            "cfg_scale": 7,
            "denoising": 0.5,
            "steps": 10,
            "frame_count": frame_count,
            "fps": None,
            "length": None,
            "width": width,
            "height": height,
            "color_match": False,
            "controlnet": None,
        },
        "deforum": deforum if generator == "deforum" else None,
        "source": None
        if source_url is None
        else {"url": source_url, "kind": source_kind},
        "soundtrack_url": None,
        "extend_from": None,
        "steering": steering,
    }
