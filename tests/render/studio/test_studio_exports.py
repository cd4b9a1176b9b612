"""Exports: sizes and aspects, crops around a focus, padding, audio, cancel."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from render_factories import set_mp4_rotation
from studio_factories import (
    close_to,
    decode_audio,
    decode_video,
    moov_before_mdat,
    stream_facts,
    write_clip,
    write_logo,
)

from mage_studio.render.errors import RenderCancelled
from mage_studio.render.pipelines import Progress
from mage_studio.render.studio import StudioMedia, run_studio
from mage_studio.render.studio.canvas import crop_box
from mage_studio.render.studio.exports import plan_export
from mage_studio.render.studio.options import ExportOptions


def export(tmp_path: Path, video: Path, options: dict[str, Any], **media: Path) -> Path:
    outputs = run_studio(
        "1", "export", options, StudioMedia((video,), **media), tmp_path / "out"
    )
    assert outputs.video is not None
    return outputs.video


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ({"aspect": "original", "maxHeight": 720}, (1280, 720)),
        ({"aspect": "9:16", "fit": "crop", "maxHeight": 1080}, (608, 1080)),
        ({"aspect": "1:1", "fit": "crop", "maxHeight": 720}, (720, 720)),
        ({"aspect": "16:9", "fit": "crop"}, (1920, 1080)),
        ({"aspect": "9:16", "fit": "pad", "maxHeight": 1920}, (1080, 1920)),
        ({"aspect": "9:16", "fit": "pad", "maxHeight": 1280}, (720, 1280)),
        ({"aspect": "1:1", "fit": "pad"}, (1920, 1920)),
    ],
)
def test_plan_sizes_for_full_hd(options: dict[str, Any], size: tuple[int, int]) -> None:
    plan = plan_export(1920, 1080, ExportOptions.model_validate(options))

    assert (plan.width, plan.height) == size


def test_plan_never_upscales_unless_asked() -> None:
    small = ExportOptions.model_validate({"aspect": "1:1", "maxHeight": 1080})
    upscaled = small.model_copy(update={"upscale": True})

    assert (
        plan_export(640, 360, small).width,
        plan_export(640, 360, small).height,
    ) == (
        360,
        360,
    )
    assert plan_export(640, 360, upscaled).height == 1080


def test_crop_box_follows_focus_and_stays_inside() -> None:
    left = crop_box(1920, 1080, Fraction(1), (0.0, 0.5))
    right = crop_box(1920, 1080, Fraction(1), (1.0, 0.5))
    middle = crop_box(1920, 1080, Fraction(1), (0.5, 0.5))

    assert (left.left, left.width, left.height) == (0, 1080, 1080)
    assert right.left == 1920 - 1080
    assert middle.left == (1920 - 1080) // 2


def test_export_crop_keeps_focus_region(tmp_path: Path) -> None:
    # Source frames: red top-left quarter, gray elsewhere.
    video = write_clip(tmp_path / "in.mp4", width=128, height=64, tone_hz=440)

    output = export(
        tmp_path,
        video,
        {"aspect": "9:16", "fit": "crop", "focus": {"x": 0.0, "y": 0.5}},
    )

    frame = decode_video(output)[0]
    top = frame[: frame.shape[0] // 2 - 2]
    assert top.shape[1] / frame.shape[0] == pytest.approx(9 / 16, abs=0.04)
    assert top[..., 0].mean() > 180  # the red corner is in view
    assert top[..., 1].mean() < 80


def test_export_output_format_and_timing(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4", frames=24, rate=Fraction(24), tone_hz=440)

    output = export(tmp_path, video, {"aspect": "1:1", "fit": "crop"})

    facts = stream_facts(output)
    assert (facts["width"], facts["height"]) == (48, 48)
    assert facts["codec"] == "h264"
    assert facts["audio_codec"] == "aac"
    assert facts["frames"] == 24
    assert facts["rate"] == 24
    assert facts["audio_seconds"] == pytest.approx(1.0, abs=1 / 24)
    assert moov_before_mdat(output)


def test_export_pad_with_solid_colour(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4", width=64, height=48)

    output = export(
        tmp_path,
        video,
        {
            "aspect": "9:16",
            "fit": "pad",
            "background": {"type": "color", "color": "#00c800"},
        },
    )

    frame = decode_video(output)[0]
    height, width = frame.shape[:2]
    assert width / height == pytest.approx(9 / 16, abs=0.02)
    top_bar = frame[: height // 5]
    bottom_bar = frame[-height // 5 :]
    for bar in (top_bar, bottom_bar):
        assert np.abs(bar.astype(int) - (0, 200, 0)).max() < 24
    middle = frame[height // 2 - 4 : height // 2 + 4]
    assert middle[..., 1].mean() < 150  # the picture, not the bar colour


def test_export_pad_with_blurred_background(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4", width=96, height=48)

    output = export(tmp_path, video, {"aspect": "1:1", "fit": "pad"})

    frame = decode_video(output)[0]
    bar = frame[:10]
    assert bar.mean() > 40  # not black: the picture, blurred and dimmed
    assert bar[..., 0].mean() > bar[..., 2].mean()  # red from the picture's corner


def test_export_shows_rotated_video_upright(tmp_path: Path) -> None:
    video = set_mp4_rotation(write_clip(tmp_path / "in.mp4", width=64, height=48), 90)

    output = export(tmp_path, video, {"aspect": "original"})

    facts = stream_facts(output)
    assert (facts["width"], facts["height"]) == (48, 64)


def test_export_draws_watermark(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4", width=128, height=96)
    logo = write_logo(tmp_path / "logo.png")

    output = export(
        tmp_path,
        video,
        {"watermark": {"position": "top-right", "scale": 0.5, "opacity": 1.0}},
        watermark=logo,
    )
    plain = export(tmp_path / "plain", video, {})

    marked, original = decode_video(output)[0], decode_video(plain)[0]
    # Logo: 64x32 at the top right (margin 3% of 96 = 3 px); its left half is white.
    assert marked[8:28, 70:90].mean() > 230
    assert close_to(marked[8:28, 106:122], original[8:28, 106:122])
    assert close_to(marked[60:, :60], original[60:, :60])


def test_export_cancel_stops_before_next_frame(tmp_path: Path) -> None:
    video = write_clip(tmp_path / "in.mp4", frames=24)
    reports: list[Progress] = []

    def cancel_after_five() -> bool:
        return len(reports) >= 5

    with pytest.raises(RenderCancelled) as caught:
        run_studio(
            "1",
            "export",
            {},
            StudioMedia((video,)),
            tmp_path / "out",
            on_progress=reports.append,
            should_cancel=cancel_after_five,
        )

    assert caught.value.frames_rendered == 5
    assert [report.frames_done for report in reports] == [1, 2, 3, 4, 5]
    assert reports[0].frames_total == 24
    assert not list((tmp_path / "out").glob("*.mp4"))


def test_export_sample_portrait_phone_clip(
    tmp_path: Path, sample_media: Callable[[str], Path]
) -> None:
    video = sample_media("iphone_rotated.mov")

    output = export(
        tmp_path,
        video,
        {"aspect": "16:9", "fit": "pad", "maxHeight": 240},
    )

    facts = stream_facts(output)
    assert facts["height"] == 240
    assert facts["width"] == 426
    assert facts["audio_codec"] == "aac"
    assert moov_before_mdat(output)


def test_export_sample_webm_audio_becomes_aac(
    tmp_path: Path, sample_media: Callable[[str], Path]
) -> None:
    video = sample_media("no_duration.webm")  # VP8/VP9 with Opus audio

    output = export(tmp_path, video, {"aspect": "1:1", "maxHeight": 144})

    facts = stream_facts(output)
    rate = facts["rate"]
    frames = facts["frames"]
    assert (facts["width"], facts["height"]) == (144, 144)
    assert facts["audio_codec"] == "aac"
    assert isinstance(rate, Fraction)
    assert isinstance(frames, int)
    seconds = decode_audio(output).shape[1] / 48000
    assert seconds == pytest.approx(float(frames / rate), abs=float(1 / rate))
