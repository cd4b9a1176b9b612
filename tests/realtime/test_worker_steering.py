"""Live steering end to end: a `mage-studio worker` process applies a change made
through the API from its next frames and reports what it applied per frame."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.realtime.live import SLOW_MODEL, LiveStack, live_stack, write_clip

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with live_stack(tmp_path_factory.mktemp("steering")) as live:
        yield live


def _upload(stack: LiveStack, clip: bytes) -> int:
    response = httpx.post(
        f"{stack.base_url}/api/upload",
        data={"type": "deforum"},
        files={"attachment": ("clip.mp4", clip, "video/mp4")},
        headers=stack.headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    job_id: int = response.json()["id"]
    return job_id


def _wait_for_frames(stack: LiveStack, job_id: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    status: Any = None
    while time.monotonic() < deadline:
        status = stack.call("GET", f"/status/{job_id}")
        if status["status"] == "processing" and status["progress"] > 0:
            return
        assert status["status"] in ("approved", "processing"), status
        time.sleep(0.05)
    raise AssertionError(f"the render did not start: {status}")


def test_worker_applies_zoom_from_next_frames(
    stack: LiveStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    clip = write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4").read_bytes()
    job_id = _upload(stack, clip)
    models = stack.call("GET", "/api/models")["data"]
    model_id = next(model["id"] for model in models if model["name"] == SLOW_MODEL)
    render = {"videoId": job_id, "modelId": model_id, "preset": "static"}
    stack.call(
        "POST",
        "/api/generate",
        json={
            **render,
            "type": "deforum",
            "prompt": "a harbour at night",
            "length": 3,
            "fps": 12,
            "frameCount": 1,
        },
    )
    stack.wait_for_status(job_id, {"preview"})

    stack.call("POST", "/api/finalize", json=render)
    _wait_for_frames(stack, job_id)
    stack.call(
        "PATCH", f"/api/video-jobs/{job_id}/steering", json={"translation_z": 0.5}
    )
    stack.wait_for_status(job_id, {"finished"})
    result = stack.call("GET", f"/api/video-jobs/{job_id}/steering")

    applied = result["applied"]
    frames = [applied[str(index)] for index in range(len(applied))]
    steered = [
        (frame.get("steering") or {}).get("translation_z") == 0.5 for frame in frames
    ]
    first = steered.index(True)
    assert len(frames) == 36
    assert first > 0
    assert all(steered[first:])
    assert not any(steered[:first])
    assert {frame["zoom"] for frame in frames[:first]} == {1.0}
    assert all(frame["zoom"] > 1.0 for frame in frames[first:])
    assert result["steering"]["translation_z"] == 0.5
