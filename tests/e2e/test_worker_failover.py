"""Workers that die or stop mid-render: the job still finishes exactly once."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import ApiUser, check_output, decode_video
from tests.e2e.processes import LiveServer
from tests.render.render_factories import write_still

pytestmark = pytest.mark.e2e

StartWorker = Callable[..., subprocess.Popen[bytes]]
# 72 frames at 256x256 take a few seconds with the preview backend, long enough
# for heartbeats to report progress before the render ends.
SLOW_DEFORUM = {
    "type": "deforum",
    "prompt": "a slow zoom",
    "preset": "zoom-in",
    "length": 3,
    "fps": 24,
    "frameCount": 1,
    "seed": 3,
}
EXIT_SECONDS = 30


def _queue_full_render(user: ApiUser, live_server: LiveServer, folder: Path) -> int:
    """Upload a still, render its preview and finalize: the full render is queued."""
    still = write_still(folder / "init.png", width=32, height=32)
    job_id = user.upload(still, "deforum")
    model_id = user.model_id(live_server.slow_model)
    user.post("/api/generate", {"videoId": job_id, **SLOW_DEFORUM, "modelId": model_id})
    assert user.wait_for(job_id, {"preview"})["status"] == "preview"
    user.post("/api/finalize", {"videoId": job_id})
    return job_id


def _runs(live_server: LiveServer, job_id: int) -> list[tuple[Any, ...]]:
    """(worker, outcome, error) of each full-render attempt, oldest first."""
    return live_server.query(
        "SELECT worker_name, outcome, error FROM render_runs "
        "WHERE job_id = ? AND render_kind = 'full' ORDER BY attempt",
        job_id,
    )


def _check_finished(user: ApiUser, job_id: int, folder: Path) -> dict[str, Any]:
    status = user.wait_for(job_id, {"finished"}, timeout=120)
    assert status["status"] == "finished", status
    video = decode_video(user.download(status["urls"]["video"], folder / "out.mp4"))
    check_output(status, video, audio=False)
    assert len(video.frames) == 72
    return status


def test_killed_worker_job_finishes_once(
    api_user: ApiUser,
    live_server: LiveServer,
    worker_factory: StartWorker,
    tmp_path: Path,
) -> None:
    doomed = worker_factory("e2e-doomed")
    job_id = _queue_full_render(api_user, live_server, tmp_path)

    api_user.wait_for_progress(job_id)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=EXIT_SECONDS)
    worker_factory("e2e-rescuer")
    _check_finished(api_user, job_id, tmp_path)

    runs = _runs(live_server, job_id)
    assert [(worker, outcome) for worker, outcome, _ in runs] == [
        ("e2e-doomed", "expired"),
        ("e2e-rescuer", "finished"),
    ]
    assert api_user.get(f"/api/video-jobs/{job_id}")["retries"] == 1


def test_sigterm_releases_or_finishes_job(
    api_user: ApiUser,
    live_server: LiveServer,
    worker_factory: StartWorker,
    tmp_path: Path,
) -> None:
    hasty = worker_factory("e2e-hasty", "--grace", "0")
    job_id = _queue_full_render(api_user, live_server, tmp_path)

    api_user.wait_for_progress(job_id)
    hasty.send_signal(signal.SIGTERM)
    assert hasty.wait(timeout=EXIT_SECONDS) == 0
    released = api_user.status(job_id)
    patient = worker_factory("e2e-patient", "--grace", "120")
    api_user.wait_for_progress(job_id)
    patient.send_signal(signal.SIGTERM)
    assert patient.wait(timeout=120) == 0
    _check_finished(api_user, job_id, tmp_path)

    assert released["status"] == "approved"
    runs = _runs(live_server, job_id)
    assert [(worker, outcome) for worker, outcome, _ in runs] == [
        ("e2e-hasty", "retry"),
        ("e2e-patient", "finished"),
    ]
    assert "shut down" in runs[0][2]


def test_worker_with_unknown_token_exits(live_server: LiveServer) -> None:
    stranger = live_server.start_worker("e2e-stranger", token="mwt_not-a-real-token")

    exit_code = stranger.wait(timeout=EXIT_SECONDS)

    assert exit_code == 3
    log = live_server.worker_log("e2e-stranger")
    assert "rejected the worker token" in log
    assert "mage-studio worker-token create" in log
