"""The worker's claim loop against an in-process fake of the API."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from fake_worker_api import FakeWorkerApi, HeartbeatScript, job_spec
from render_factories import write_video

from mage_studio.queue.schemas import JobSpec
from mage_studio.render.backends import Backend
from mage_studio.render.client import ApiUnavailable, DownloadFailed, WorkerUnauthorized
from mage_studio.render.errors import (
    BackendError,
    InvalidMedia,
    RenderCancelled,
    RenderError,
    SettingsError,
    SettingsProblem,
)
from mage_studio.render.imaging import RGBImage
from mage_studio.render.job_run import JobRun, classify_failure
from mage_studio.render.runner import Worker
from mage_studio.render.slots import WorkerConfig

TIMEOUT = 60.0
"""Safety limit for waits in these tests, far above their normal duration."""


class GatedBackend(Backend):
    """Returns its input. From call `block_at` on it waits for `gate` (or interrupt)."""

    name: ClassVar[str] = "gated"
    label: ClassVar[str] = "gated test backend"

    def __init__(
        self,
        block_at: int | None = None,
        error: Exception | None = None,
        barrier: threading.Barrier | None = None,
    ) -> None:
        self.block_at = block_at
        self.error = error
        self.barrier = barrier
        self.calls = 0
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.interrupts = 0

    def img2img(
        self,
        image: RGBImage,
        prompt: str,
        negative_prompt: str,
        seed: int,
        cfg: float,
        denoising: float,
        steps: int,
        model: str | None,
    ) -> RGBImage:
        self.calls += 1
        if self.error is not None:
            raise self.error
        if self.barrier is not None and self.calls == 1:
            self.barrier.wait(timeout=TIMEOUT)
        if self.block_at is not None and self.calls >= self.block_at:
            self.entered.set()
            self.gate.wait(timeout=TIMEOUT)
        return image.copy()

    def interrupt(self) -> None:
        self.interrupts += 1
        self.gate.set()


@pytest.fixture
def api() -> FakeWorkerApi:
    return FakeWorkerApi()


@pytest.fixture
def clip_url(api: FakeWorkerApi, tmp_path: Path) -> str:
    clip = write_video(
        tmp_path / "clip.mp4", width=64, height=48, frames=6, rate=Fraction(12)
    )
    return api.add_media("clip.mp4", clip.read_bytes())


def _config(tmp_path: Path, **overrides: Any) -> WorkerConfig:
    values: dict[str, Any] = {
        "name": "gpu-1",
        "claim_wait": 0,
        "progress_interval": 0.02,
        "frame_interval": 0.02,
        "workdir": tmp_path / "work",
        "grace_seconds": TIMEOUT,
    }
    values.update(overrides)
    return WorkerConfig(**values)


async def _wait_for(predicate: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), TIMEOUT)


async def _serve_until(
    worker: Worker, predicate: Callable[[], bool], grace: float = 0
) -> None:
    """Run the worker until `predicate` holds, then shut it down."""
    task = asyncio.create_task(worker.run())
    await _wait_for(lambda: predicate() or task.done())
    worker.request_shutdown(grace)
    await asyncio.wait_for(task, TIMEOUT)


async def test_renders_and_uploads_result(
    api: FakeWorkerApi, clip_url: str, tmp_path: Path
) -> None:
    api.add_job(1, source_url=clip_url, frame_count=6)

    async with api.client() as client:
        worker = Worker(client, GatedBackend, _config(tmp_path))
        await _serve_until(worker, lambda: 1 in api.results)

    result = api.results[1]
    assert result["attempt"] == 1
    assert result["frames_rendered"] == 6
    assert set(result["files"]) == {
        "video",
        "thumbnail",
        "last_frame",
        "preview_img",
        "preview_animation",
        "rendition_thumbnail_square",
        "rendition_backdrop",
        "rendition_poster",
        "rendition_animated_preview",
    }
    assert result["files"]["video"][4:8] == b"ftyp"
    timings = result["metadata"]["timings"]
    assert timings["seconds_per_frame"] == pytest.approx(
        timings["total_seconds"] / 6, abs=1e-3
    )
    assert api.claims[0]["worker_name"] == "gpu-1"
    assert not list((tmp_path / "work").iterdir())  # job folders are removed


async def test_cancel_request_stops_and_reports_frames(
    api: FakeWorkerApi, clip_url: str, tmp_path: Path
) -> None:
    api.add_job(2, source_url=clip_url, frame_count=6)
    api.scripts[2] = HeartbeatScript(cancel_after=1)
    backend = GatedBackend(block_at=2)

    async with api.client() as client:
        worker = Worker(client, lambda: backend, _config(tmp_path))
        await _serve_until(worker, lambda: 2 in api.failures)

    failure = api.failures[2]
    assert failure["cancelled"] is True
    assert failure["frames_rendered"] == 2
    assert failure["retryable"] is False
    assert backend.interrupts >= 1
    assert 2 not in api.results


async def test_lost_job_dropped_and_next_claimed(
    api: FakeWorkerApi, clip_url: str, tmp_path: Path
) -> None:
    api.add_job(3, source_url=clip_url, frame_count=6)
    api.add_job(4, source_url=clip_url, frame_count=6)
    api.scripts[3] = HeartbeatScript(lost_after=1)
    backends = iter([GatedBackend(block_at=2)])

    async with api.client() as client:
        worker = Worker(client, lambda: next(backends), _config(tmp_path))
        await _serve_until(worker, lambda: 4 in api.results)

    assert 3 not in api.results
    assert 3 not in api.failures
    assert api.results[4]["frames_rendered"] == 6


async def test_unusable_source_fails_for_good(
    api: FakeWorkerApi, clip_url: str, tmp_path: Path
) -> None:
    broken = api.add_media("broken.mp4", b"this is not a video at all")
    api.add_job(5, source_url=broken)
    api.add_job(6, source_url=clip_url, frame_count=6)

    async with api.client() as client:
        worker = Worker(client, GatedBackend, _config(tmp_path))
        await _serve_until(worker, lambda: 6 in api.results)

    failure = api.failures[5]
    assert failure["retryable"] is False
    assert failure["cancelled"] is False
    assert "video" in failure["error"].lower()


async def test_invalid_deforum_settings_fail_for_good(
    api: FakeWorkerApi, tmp_path: Path
) -> None:
    api.add_job(
        7,
        generator="deforum",
        frame_count=3,
        deforum={"strength_schedule": "0:(undefined_function(t))"},
    )

    async with api.client() as client:
        worker = Worker(client, GatedBackend, _config(tmp_path))
        await _serve_until(worker, lambda: 7 in api.failures)

    failure = api.failures[7]
    assert failure["retryable"] is False
    assert "strength_schedule" in failure["error"]


async def test_backend_error_retryable_per_flag(
    api: FakeWorkerApi, clip_url: str, tmp_path: Path
) -> None:
    api.add_job(8, source_url=clip_url, frame_count=6)
    busy = BackendError("The WebUI is busy.", retryable=True)

    async with api.client() as client:
        worker = Worker(client, lambda: GatedBackend(error=busy), _config(tmp_path))
        await _serve_until(worker, lambda: 8 in api.failures)

    assert api.failures[8]["retryable"] is True
    assert api.failures[8]["error"] == "The WebUI is busy."


async def test_missing_source_file_fails_for_good(
    api: FakeWorkerApi, tmp_path: Path
) -> None:
    api.add_job(9, source_url="http://api.test/media/gone.mp4")

    async with api.client() as client:
        worker = Worker(client, GatedBackend, _config(tmp_path))
        await _serve_until(worker, lambda: 9 in api.failures)

    assert api.failures[9]["retryable"] is False
    assert "404" in api.failures[9]["error"]


async def test_rejected_token_stops_worker(api: FakeWorkerApi, tmp_path: Path) -> None:
    api.valid_token = "mwt_other"

    async with api.client() as client:
        worker = Worker(client, GatedBackend, _config(tmp_path))
        with pytest.raises(WorkerUnauthorized):
            await asyncio.wait_for(worker.run(), TIMEOUT)


async def test_shutdown_releases_job_after_grace(
    api: FakeWorkerApi, clip_url: str, tmp_path: Path
) -> None:
    api.add_job(10, source_url=clip_url, frame_count=6)
    backend = GatedBackend(block_at=1)

    async with api.client() as client:
        worker = Worker(client, lambda: backend, _config(tmp_path))
        task = asyncio.create_task(worker.run())
        await _wait_for(backend.entered.is_set)
        worker.request_shutdown(grace=0.05)
        await asyncio.wait_for(task, TIMEOUT)

    failure = api.failures[10]
    assert failure["retryable"] is True
    assert failure["cancelled"] is False
    assert "shut down" in failure["error"]
    assert len(api.claims) == 1


async def test_shutdown_lets_job_finish_within_grace(
    api: FakeWorkerApi, clip_url: str, tmp_path: Path
) -> None:
    api.add_job(11, source_url=clip_url, frame_count=6)
    backend = GatedBackend(block_at=1)

    async with api.client() as client:
        worker = Worker(client, lambda: backend, _config(tmp_path))
        task = asyncio.create_task(worker.run())
        await _wait_for(backend.entered.is_set)
        worker.request_shutdown(grace=TIMEOUT)
        backend.gate.set()
        await asyncio.wait_for(task, TIMEOUT)

    assert api.results[11]["frames_rendered"] == 6
    assert 11 not in api.failures
    assert len(api.claims) == 1


async def test_steering_and_applied_values(api: FakeWorkerApi, tmp_path: Path) -> None:
    api.add_job(
        12,
        generator="deforum",
        frame_count=5,
        deforum={"zoom": "0:(1.0)"},
        steering={"rotation_z": 2.0},
    )
    api.scripts[12] = HeartbeatScript(steering={"translation_x": 5.0})
    backend = GatedBackend(block_at=2)

    async with api.client() as client:
        worker = Worker(client, lambda: backend, _config(tmp_path))
        task = asyncio.create_task(worker.run())
        # The second heartbeat goes out after the first response was applied.
        await _wait_for(lambda: len(api.heartbeats.get(12, [])) >= 2)
        backend.gate.set()
        await _wait_for(lambda: 12 in api.results)
        worker.request_shutdown(0)
        await asyncio.wait_for(task, TIMEOUT)

    applied = api.results[12]["metadata"]["applied_steering"]
    assert applied["0"]["steering"] == {"rotation_z": 2.0}
    assert applied["4"]["steering"] == {"translation_x": 5.0}
    assert applied["4"]["translation_x"] == 5.0
    reported: dict[str, Any] = {}
    for beat in api.heartbeats[12]:
        reported.update(beat["applied"])
    assert "0" in reported
    assert all(beat["attempt"] == 1 for beat in api.heartbeats[12])
    assert api.frames
    assert api.frames[0]["content_type"] == "image/jpeg"


async def test_concurrency_runs_jobs_in_parallel(
    api: FakeWorkerApi, clip_url: str, tmp_path: Path
) -> None:
    api.add_job(13, source_url=clip_url, frame_count=6)
    api.add_job(14, source_url=clip_url, frame_count=6)
    # Each job's first frame waits until the other job reached its first frame.
    barrier = threading.Barrier(2)

    async with api.client() as client:
        worker = Worker(
            client,
            lambda: GatedBackend(barrier=barrier),
            _config(tmp_path, concurrency=2),
        )
        await _serve_until(worker, lambda: {13, 14} <= set(api.results))

    assert api.results[13]["frames_rendered"] == 6
    assert api.results[14]["frames_rendered"] == 6
    assert {claim["worker_name"] for claim in api.claims} == {"gpu-1.1", "gpu-1.2"}


@pytest.mark.parametrize(
    ("error", "reason", "expected"),
    [
        (RenderCancelled(3), "cancel", (True, False, 3, "cancelled")),
        (RenderCancelled(3), "shutdown", (False, True, 3, "released")),
        (InvalidMedia("bad"), None, (False, False, 0, "failed")),
        (
            SettingsError([SettingsProblem("zoom", "bad")]),
            None,
            (False, False, 0, "failed"),
        ),
        (BackendError("busy", retryable=True), None, (False, True, 0, "failed")),
        (BackendError("bad model", retryable=False), None, (False, False, 0, "failed")),
        (DownloadFailed("gone", retryable=False), None, (False, False, 0, "failed")),
        (ApiUnavailable("down"), None, (False, True, 0, "failed")),
        (RuntimeError("bug"), None, (False, True, 0, "failed")),
    ],
)
def test_classify_failure(
    error: Exception, reason: Any, expected: tuple[bool, bool, int, str]
) -> None:
    decision = classify_failure(error, reason, frames_done=0)

    assert decision is not None
    body, outcome = decision
    assert (body.cancelled, body.retryable, body.frames_rendered, outcome) == expected


def test_classify_failure_strips_nul() -> None:
    decision = classify_failure(
        RenderError("decoder said \x00\x00 here"), None, frames_done=0
    )

    assert decision is not None
    body, _ = decision
    assert body.error == "decoder said  here"


def test_classify_lost_job_reports_nothing() -> None:
    assert classify_failure(RenderCancelled(2), "lost", frames_done=2) is None


def test_heartbeat_drops_unstorable_applied_values() -> None:
    spec = JobSpec.model_validate(
        {
            "job_id": 5,
            "attempt": 1,
            "lease_expires_at": "2030-01-01T00:00:00Z",
            "heartbeat_interval": 10,
            "render": "full",
            "generator": "deforum",
            "model": None,
            "params": {"frame_count": 4},
            "source": None,
        }
    )
    host = SimpleNamespace(client=None, config=None)
    run = JobRun(host, "gpu-01", spec, GatedBackend())  # type: ignore[arg-type]
    run._pending_applied = {
        "1": {"zoom": 1.0},
        "2": {"zoom": math.nan},
        "3": {"prompt": "\ud800"},
    }

    body = run._heartbeat_body()

    assert body.applied == {"1": {"zoom": 1.0}}
    assert run._pending_applied == {"1": {"zoom": 1.0}}


async def test_deleted_extension_base_names_job(
    api: FakeWorkerApi, tmp_path: Path
) -> None:
    spec = job_spec(12, generator="deforum", frame_count=3)
    spec["extend_from"] = {
        "job_id": 41,
        "video_url": "http://api.test/media/deleted-base.mp4",
        "last_frame_url": None,
    }
    api.queue.append(spec)

    async with api.client() as client:
        worker = Worker(client, GatedBackend, _config(tmp_path))
        await _serve_until(worker, lambda: 12 in api.failures)

    failure = api.failures[12]
    assert failure["retryable"] is False
    assert "job 41, which this job extends, was not found" in failure["error"]
    assert "/media/" not in failure["error"]
