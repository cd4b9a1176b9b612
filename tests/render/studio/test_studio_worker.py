"""The worker's claim loop running studio jobs against an in-process fake API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from fake_worker_api import API_URL, FakeWorkerApi, HeartbeatScript, job_spec
from studio_factories import generated_frame, write_clip

from mage_studio.render.backends import PreviewBackend
from mage_studio.render.runner import Worker
from mage_studio.render.slots import WorkerConfig

TIMEOUT = 60.0


def studio_job(
    job_id: int, studio: dict[str, Any] | None, frames: int
) -> dict[str, Any]:
    spec = job_spec(job_id, generator="studio", frame_count=frames)
    spec["model"] = None
    spec["studio"] = studio
    return spec


def config(tmp_path: Path) -> WorkerConfig:
    return WorkerConfig(
        name="cpu-1",
        claim_wait=0,
        progress_interval=0.02,
        frame_interval=0,
        workdir=tmp_path / "work",
        grace_seconds=TIMEOUT,
    )


async def serve_until(worker: Worker, predicate: Callable[[], bool]) -> None:
    task = asyncio.create_task(worker.run())

    async def poll() -> None:
        while not predicate() and not task.done():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), TIMEOUT)
    worker.request_shutdown(0)
    await asyncio.wait_for(task, TIMEOUT)


async def test_worker_runs_studio_composition(tmp_path: Path) -> None:
    api = FakeWorkerApi(results_wait_for_heartbeat=True)
    source = write_clip(tmp_path / "s.mp4", frames=12, tone_hz=440)
    generated = write_clip(tmp_path / "g.mp4", frame=generated_frame, frames=12)
    task = {
        "operation": "composition",
        "options": {"layout": "side-by-side"},
        "inputs": [
            {
                "job_id": 1,
                "video_url": api.add_media("g.mp4", generated.read_bytes()),
                "source_url": api.add_media("s.mp4", source.read_bytes()),
            }
        ],
    }
    api.queue.append(studio_job(7, task, frames=12))

    async with api.client() as client:
        worker = Worker(client, PreviewBackend, config(tmp_path))
        await serve_until(worker, lambda: 7 in api.results)

    result = api.results[7]
    assert result["frames_rendered"] == 12
    assert {"video", "thumbnail", "last_frame", "preview_img"} <= set(result["files"])
    assert result["files"]["video"][4:8] == b"ftyp"
    assert result["metadata"]["width"] == 128
    assert result["metadata"]["has_audio"] is False
    beats = api.heartbeats.get(7, [])
    assert beats
    assert beats[-1]["frames_total"] == 12
    assert not list((tmp_path / "work").iterdir())


async def test_worker_cancels_studio_job(tmp_path: Path) -> None:
    api = FakeWorkerApi()
    clip = write_clip(tmp_path / "long.mp4", frames=240, rate=Fraction(24))
    task = {
        "operation": "export",
        "options": {"aspect": "1:1"},
        "inputs": [
            {"job_id": 1, "video_url": api.add_media("v.mp4", clip.read_bytes())}
        ],
    }
    api.queue.append(studio_job(8, task, frames=240))
    api.scripts[8] = HeartbeatScript(cancel_after=1)

    async with api.client() as client:
        worker = Worker(client, PreviewBackend, config(tmp_path))
        await serve_until(worker, lambda: 8 in api.failures or 8 in api.results)

    assert 8 not in api.results
    failure = api.failures[8]
    assert failure["cancelled"] is True
    assert failure["frames_rendered"] < 240


async def test_studio_job_without_task_fails_for_good(tmp_path: Path) -> None:
    api = FakeWorkerApi()
    api.queue.append(studio_job(9, None, frames=4))

    async with api.client() as client:
        worker = Worker(client, PreviewBackend, config(tmp_path))
        await serve_until(worker, lambda: 9 in api.failures)

    failure = api.failures[9]
    assert failure["retryable"] is False
    assert "no studio task" in failure["error"]


async def test_studio_job_with_missing_input_fails_for_good(tmp_path: Path) -> None:
    api = FakeWorkerApi()
    task = {"operation": "export", "options": {}, "inputs": [{"job_id": 3}]}
    api.queue.append(studio_job(10, task, frames=4))

    async with api.client() as client:
        worker = Worker(client, PreviewBackend, config(tmp_path))
        await serve_until(worker, lambda: 10 in api.failures)

    failure = api.failures[10]
    assert failure["retryable"] is False
    assert "job 3 is missing" in failure["error"]


async def test_studio_input_deleted_after_claim_names_job(tmp_path: Path) -> None:
    api = FakeWorkerApi()
    # A signed URL whose file is gone, so the fake API returns 404 for it.
    task = {
        "operation": "export",
        "options": {},
        "inputs": [{"job_id": 97, "video_url": f"{API_URL}/media/deleted.mp4"}],
    }
    api.queue.append(studio_job(11, task, frames=4))

    async with api.client() as client:
        worker = Worker(client, PreviewBackend, config(tmp_path))
        await serve_until(worker, lambda: 11 in api.failures)

    failure = api.failures[11]
    assert failure["retryable"] is False
    assert "input job 97 was not found" in failure["error"]
    assert "deleted" in failure["error"]
    assert "/media/" not in failure["error"]
    assert "HTTP 404" not in failure["error"]


async def test_studio_input_upload_deleted_names_job(tmp_path: Path) -> None:
    api = FakeWorkerApi()
    video = write_clip(tmp_path / "g.mp4", frame=generated_frame, frames=4)
    task = {
        "operation": "composition",
        "options": {"layout": "side-by-side"},
        "inputs": [
            {
                "job_id": 98,
                "video_url": api.add_media("g.mp4", video.read_bytes()),
                "source_url": f"{API_URL}/media/deleted-upload.mp4",
            }
        ],
    }
    api.queue.append(studio_job(12, task, frames=4))

    async with api.client() as client:
        worker = Worker(client, PreviewBackend, config(tmp_path))
        await serve_until(worker, lambda: 12 in api.failures)

    failure = api.failures[12]
    assert failure["retryable"] is False
    assert "upload of input job 98 was not found" in failure["error"]
