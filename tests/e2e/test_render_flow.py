"""Upload, preview, finalize and download through a live server and worker."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import (
    ApiUser,
    DecodedVideo,
    check_output,
    decode_video,
    mean_difference,
)
from tests.e2e.processes import LiveServer
from tests.render.render_factories import (
    set_mp4_rotation,
    write_audio,
    write_gif,
    write_still,
    write_video,
)

pytestmark = pytest.mark.e2e

VID2VID = {"type": "vid2vid", "prompt": "an oil painting", "frameCount": 2, "seed": 7}
DEFORUM = {
    "type": "deforum",
    "prompt": "a lighthouse at dusk",
    "preset": "zoom-in",
    "length": 1,
    "fps": 8,
    "frameCount": 1,
    "seed": 11,
}
# Frames of two H.264 encodes of the same picture differ by a few levels on average.
SAME_FRAME_TOLERANCE = 4.0


@pytest.fixture
def model_id(live_server: LiveServer, api_user: ApiUser) -> int:
    """Id of a small model, which the server's own worker renders."""
    return api_user.model_id(live_server.fast_model)


def _finish(
    user: ApiUser, job_id: int, generate: dict[str, Any], folder: Path
) -> tuple[dict[str, Any], DecodedVideo]:
    status = user.preview_then_finish(job_id, generate)
    output = user.download(status["urls"]["video"], folder / f"job-{job_id}.mp4")
    return status, decode_video(output)


def test_vid2vid_video_keeps_audio(
    api_user: ApiUser, model_id: int, tmp_path: Path
) -> None:
    source = write_video(
        tmp_path / "clip.mp4",
        width=64,
        height=48,
        frames=12,
        rate=Fraction(12),
        audio_codec="aac",
    )

    job_id = api_user.upload(source, "vid2vid")
    status, video = _finish(
        api_user, job_id, {**VID2VID, "modelId": model_id}, tmp_path
    )

    check_output(status, video, audio=True)
    assert status["frame_count"] == 12
    assert (video.width, video.height) == (128, 96)
    assert status["urls"]["thumbnail"] is not None
    assert status["urls"]["last_frame"] is not None


def test_vid2vid_rotated_phone_clip_is_upright(
    api_user: ApiUser, model_id: int, tmp_path: Path
) -> None:
    source = write_video(
        tmp_path / "phone.mp4", width=64, height=48, frames=10, rate=Fraction(10)
    )
    set_mp4_rotation(source, 90)

    job_id = api_user.upload(source, "vid2vid")
    status, video = _finish(
        api_user, job_id, {**VID2VID, "modelId": model_id}, tmp_path
    )

    check_output(status, video, audio=False)
    assert (video.width, video.height) == (96, 128)


def test_vid2vid_still_and_gif(
    api_user: ApiUser, model_id: int, tmp_path: Path
) -> None:
    still = write_still(tmp_path / "still.png", width=40, height=30)
    gif = write_gif(tmp_path / "anim.gif", frames=6)

    still_id = api_user.upload(still, "vid2vid")
    still_status, still_video = _finish(
        api_user, still_id, {**VID2VID, "modelId": model_id, "frameCount": 1}, tmp_path
    )
    gif_id = api_user.upload(gif, "vid2vid")
    gif_status, gif_video = _finish(
        api_user, gif_id, {**VID2VID, "modelId": model_id}, tmp_path
    )

    check_output(still_status, still_video, audio=False)
    assert len(still_video.frames) == 1
    check_output(gif_status, gif_video, audio=False)
    assert len(gif_video.frames) == 6
    assert gif_video.rate == 10


def test_deforum_with_soundtrack_and_extension(
    api_user: ApiUser, model_id: int, tmp_path: Path
) -> None:
    still = write_still(tmp_path / "init.png", width=48, height=48)
    soundtrack = write_audio(tmp_path / "music.wav", seconds=3.0)

    base_id = api_user.upload(still, "deforum", soundtrack=soundtrack)
    base_status, base_video = _finish(
        api_user, base_id, {**DEFORUM, "modelId": model_id}, tmp_path
    )
    extension_id = api_user.upload(still, "deforum")
    extension_status, extension_video = _finish(
        api_user,
        extension_id,
        {"type": "deforum", "extendFromJobId": base_id, "frameCount": 1, "length": 1},
        tmp_path,
    )

    check_output(base_status, base_video, audio=True)
    assert len(base_video.frames) == 8
    assert (base_video.width, base_video.height) == (128, 128)
    check_output(extension_status, extension_video, audio=True, base_frames=8)
    assert len(extension_video.frames) == 16
    for index, frame in enumerate(base_video.frames):
        difference = mean_difference(frame, extension_video.frames[index])
        assert difference < SAME_FRAME_TOLERANCE, index


@pytest.mark.parametrize(
    ("name", "audio"),
    [
        ("iphone_rotated.mov", True),
        ("pigs_in_a_polka.gif", False),
        ("vacation_2017.jpg", False),
    ],
)
def test_vid2vid_real_samples(
    api_user: ApiUser,
    model_id: int,
    tmp_path: Path,
    samples_dir: Path,
    name: str,
    audio: bool,
) -> None:
    source = samples_dir / "media" / name
    if not source.is_file():
        pytest.skip(f"{name} is not among the samples")

    job_id = api_user.upload(source, "vid2vid")
    status, video = _finish(
        api_user, job_id, {**VID2VID, "modelId": model_id}, tmp_path
    )

    check_output(status, video, audio=audio)
    assert max(video.width, video.height) == 128
