"""run_studio dispatch, option errors, and downloading a task's media."""

from __future__ import annotations

from pathlib import Path

import pytest
from studio_factories import stream_facts, write_clip

from mage_studio.render.errors import MediaError
from mage_studio.render.studio import (
    StudioMedia,
    StudioOptionsError,
    StudioTask,
    download_studio_media,
    run_studio,
)


def test_unknown_operation(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4")

    with pytest.raises(StudioOptionsError, match="Unknown studio operation"):
        run_studio("1", "remix", {}, StudioMedia((video,)), tmp_path / "out")


def test_invalid_options_name_the_field(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4")

    with pytest.raises(StudioOptionsError, match="maxHeight"):
        run_studio(
            "1", "export", {"maxHeight": 1}, StudioMedia((video,)), tmp_path / "out"
        )


def test_watermark_requested_but_missing(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4")

    with pytest.raises(MediaError, match="watermark"):
        run_studio(
            "1",
            "export",
            {"watermark": {}},
            StudioMedia((video,)),
            tmp_path / "out",
        )


def test_no_input_video(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no input video"):
        run_studio("1", "export", {}, StudioMedia(()), tmp_path / "out")


def test_outputs_describe_the_result(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4", width=64, height=48, frames=12)

    outputs = run_studio(
        "7", "export", {"aspect": "1:1"}, StudioMedia((video,)), tmp_path / "out"
    )

    assert outputs.video is not None
    assert outputs.frames_rendered == 12
    assert outputs.frame_count == 12
    assert (outputs.width, outputs.height) == (48, 48)
    assert outputs.thumbnail.is_file()
    assert outputs.last_frame.is_file()
    assert outputs.preview_img.is_file()
    assert outputs.preview_animation is not None
    assert outputs.metadata()["backend"] == "studio (CPU)"
    assert stream_facts(outputs.video)["frames"] == 12


async def test_download_studio_media(tmp_path: Path) -> None:
    task = StudioTask.model_validate(
        {
            "operation": "composition",
            "options": {"layout": "wipe"},
            "inputs": [
                {
                    "job_id": 4,
                    "video_url": "http://api/files/v.mp4?sig=1",
                    "source_url": "http://api/files/s.MOV",
                }
            ],
            "watermark_url": "http://api/files/w.png",
            "future_field": "ignored",
        }
    )
    fetched: list[tuple[str, Path]] = []

    async def download(url: str, path: Path) -> Path:
        fetched.append((url, path))
        return path

    media = await download_studio_media(task, tmp_path / "media", download)

    assert media.videos == (tmp_path / "media" / "video-0.mp4",)
    assert media.source == tmp_path / "media" / "source.mov"
    assert media.watermark == tmp_path / "media" / "watermark.png"
    assert media.soundtrack is None
    assert len(fetched) == 3


async def test_download_rejects_missing_video(tmp_path: Path) -> None:
    task = StudioTask.model_validate({"operation": "export", "inputs": [{"job_id": 9}]})

    async def download(url: str, path: Path) -> Path:
        return path

    with pytest.raises(MediaError, match="job 9"):
        await download_studio_media(task, tmp_path, download)
