"""HTTP steps of a studio user and checks on decoded outputs."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import numpy.typing as npt
import pytest

PASSWORD = "e2e password 123"
FINAL_STATUSES = {"preview", "finished", "error", "cancelled"}
_users = itertools.count(1)


@dataclass
class ApiUser:
    """A logged-in user and their HTTP client."""

    http: httpx.Client
    headers: dict[str, str]

    def get(self, path: str) -> Any:
        response = self.http.get(path, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(path, json=body, headers=self.headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def model_id(self, name: str) -> int:
        models = self.get("/api/models")["data"]
        return next(model["id"] for model in models if model["name"] == name)

    def upload(self, path: Path, kind: str, soundtrack: Path | None = None) -> int:
        files = {"attachment": (path.name, path.read_bytes())}
        if soundtrack is not None:
            files["soundtrack"] = (soundtrack.name, soundtrack.read_bytes())
        response = self.http.post(
            "/api/upload", data={"type": kind}, files=files, headers=self.headers
        )
        assert response.status_code == 200, response.text
        job_id: int = response.json()["id"]
        return job_id

    def status(self, job_id: int) -> dict[str, Any]:
        status: dict[str, Any] = self.get(f"/status/{job_id}")
        return status

    def wait_for(
        self, job_id: int, statuses: set[str], timeout: float = 90.0
    ) -> dict[str, Any]:
        """Poll /status until the job reaches one of `statuses` (or a final one)."""
        deadline = time.monotonic() + timeout
        status = self.status(job_id)
        while time.monotonic() < deadline:
            status = self.status(job_id)
            if status["status"] in statuses | FINAL_STATUSES:
                return status
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} stayed {status['status']}: {status}")

    def wait_for_progress(self, job_id: int, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until a processing job reports rendered frames."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(job_id)
            if status["status"] == "processing" and status["progress"] > 0:
                return status
            assert status["status"] in ("approved", "processing"), status
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} reported no progress")

    def preview_then_finish(
        self, job_id: int, generate: dict[str, Any]
    ) -> dict[str, Any]:
        """Generate a preview, finalize it and return the finished status."""
        self.post("/api/generate", {"videoId": job_id, **generate})
        preview = self.wait_for(job_id, {"preview"})
        assert preview["status"] == "preview", preview
        self.post("/api/finalize", {"videoId": job_id})
        finished = self.wait_for(job_id, {"finished"})
        assert finished["status"] == "finished", finished
        return finished

    def download(self, url: str, destination: Path) -> Path:
        response = self.http.get(url)
        assert response.status_code == 200, response.text[:200]
        destination.write_bytes(response.content)
        return destination


def register_user(http: httpx.Client) -> ApiUser:
    email = f"e2e{next(_users)}-{time.monotonic_ns()}@example.com"
    response = http.post(
        "/api/auth/register",
        json={"email": email, "password": PASSWORD, "password_confirmation": PASSWORD},
    )
    assert response.status_code == 201, response.text
    response = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.json()["data"]["accessToken"]
    return ApiUser(http, {"Authorization": f"Bearer {token}"})


@dataclass
class DecodedVideo:
    frames: list[npt.NDArray[np.uint8]]
    width: int
    height: int
    rate: Fraction
    duration: float
    has_audio: bool


def decode_video(path: Path) -> DecodedVideo:
    """Decode every frame of an MP4 and measure its duration from the timestamps."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        has_audio = bool(container.streams.audio)
        rate = Fraction(stream.average_rate or stream.guessed_rate or 0)
        frames = []
        last_end = 0.0
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if frame.pts is not None and frame.time_base is not None:
                start = float(frame.pts * frame.time_base)
                last_end = max(last_end, start + (float(1 / rate) if rate else 0.0))
        return DecodedVideo(
            frames=frames,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            rate=rate,
            duration=last_end,
            has_audio=has_audio,
        )


def check_output(
    status: dict[str, Any],
    video: DecodedVideo,
    *,
    audio: bool,
    base_frames: int = 0,
) -> None:
    """Check a finished video against the job's frame count, size, rate and audio.

    An extension's video starts with `base_frames` frames of the base video,
    which the job's `frame_count` (the new frames) does not count.
    """
    frame_count = status["frame_count"] + base_frames
    fps = status["fps"]
    assert len(video.frames) == frame_count
    assert (video.width, video.height) == (status["width"], status["height"])
    if fps is None:
        # A still has no rate of its own, so the job has none either.
        fps = float(video.rate)
    assert float(video.rate) == pytest.approx(fps, rel=1e-3)
    assert abs(video.duration - frame_count / fps) <= 1 / fps
    assert video.has_audio is audio


def mean_difference(
    first: npt.NDArray[np.uint8], second: npt.NDArray[np.uint8]
) -> float:
    return float(np.abs(first.astype(np.int16) - second.astype(np.int16)).mean())
