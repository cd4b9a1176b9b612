"""render_job end to end with generated media: vid2vid, Deforum, extensions, cancel."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np
import pytest
from PIL import Image
from render_factories import (
    decoded_index,
    set_mp4_rotation,
    write_audio,
    write_still,
    write_video,
)

from mage_studio.render.backends import Backend, PreviewBackend
from mage_studio.render.errors import InvalidMedia, RenderCancelled, SettingsError
from mage_studio.render.imaging import RGBImage
from mage_studio.render.media import load_png, probe
from mage_studio.render.pipelines import ExtendFrom, Progress, RenderSpec, render_job


@dataclass
class Call:
    index: int
    prompt: str
    negative_prompt: str
    seed: int
    cfg: float
    denoising: float
    steps: int
    model: str | None
    mean: float


@dataclass
class RecordingBackend(Backend):
    """Returns its input (optionally brightened) and records every call."""

    name: ClassVar[str] = "recording"
    label: ClassVar[str] = "recording test backend"
    brighten: int = 0
    calls: list[Call] = field(default_factory=list)

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
        self.calls.append(
            Call(
                decoded_index(image),
                prompt,
                negative_prompt,
                seed,
                cfg,
                denoising,
                steps,
                model,
                float(image.mean()),
            )
        )
        if not self.brighten:
            return image.copy()
        return np.clip(
            image.astype(int) + self.brighten * len(self.calls), 0, 255
        ).astype(np.uint8)


def _spec(**overrides: Any) -> RenderSpec:
    values: dict[str, Any] = {
        "job_id": "job-1",
        "generator": "vid2vid",
        "render": "full",
        "prompt": "a lighthouse",
        "seed": 7,
        "width": 64,
        "height": 48,
        "model": "sd15-base",
    }
    values.update(overrides)
    return RenderSpec(**values)


def _frame_count(path: Path) -> int:
    return probe(path).frame_count


# --- vid2vid ---------------------------------------------------------------------


def test_vid2vid_preview_samples_evenly(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=12)
    backend = RecordingBackend()

    outputs = render_job(
        _spec(source=source, render="preview", frame_count=3), tmp_path / "out", backend
    )

    assert [call.index for call in backend.calls] == [0, 6, 11]
    assert {call.seed for call in backend.calls} == {7}
    assert {call.model for call in backend.calls} == {"sd15-base"}
    assert outputs.video is None
    assert outputs.frames_rendered == 3
    assert outputs.preview_animation is not None
    with Image.open(outputs.preview_animation) as animation:
        assert animation.n_frames == 3
    with Image.open(outputs.preview_img) as strip:
        assert strip.size == (3 * 64, 48)
    with Image.open(outputs.thumbnail) as thumbnail:
        assert thumbnail.format == "JPEG"
    assert decoded_index(load_png(outputs.last_frame)) == 11


def test_vid2vid_single_frame_preview(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=12)

    outputs = render_job(
        _spec(source=source, render="preview", frame_count=1),
        tmp_path / "out",
        RecordingBackend(),
    )

    assert outputs.preview_animation is None
    assert outputs.video is None
    assert outputs.preview_img.exists()


def test_vid2vid_full_keeps_rate_frames_audio(tmp_path: Path) -> None:
    source = write_video(
        tmp_path / "source.mp4",
        frames=12,
        rate=Fraction(24000, 1001),
        audio_codec="aac",
    )
    backend = RecordingBackend()
    progress: list[Progress] = []

    outputs = render_job(
        _spec(source=source), tmp_path / "out", backend, on_progress=progress.append
    )

    assert outputs.video is not None
    info = probe(outputs.video)
    assert info.frame_count == 12
    assert info.fps == Fraction(24000, 1001)
    assert info.has_audio
    assert (info.width, info.height) == (64, 48)
    assert [call.index for call in backend.calls] == list(range(12))
    assert {call.seed for call in backend.calls} == {7}
    assert [p.frames_done for p in progress] == list(range(1, 13))
    assert progress[-1].percent == 100.0
    assert outputs.metadata()["fps"] == "24000/1001"


def test_vid2vid_soundtrack_replaces_source_audio(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=12)
    soundtrack = write_audio(
        tmp_path / "track.mp3", seconds=3, codec="libmp3lame", container_format="mp3"
    )

    outputs = render_job(
        _spec(source=source, soundtrack=soundtrack),
        tmp_path / "out",
        RecordingBackend(),
    )

    assert outputs.has_audio
    assert outputs.video is not None
    with av.open(str(outputs.video)) as container:
        stream = container.streams.audio[0]
        end = max(
            float((p.pts + p.duration) * p.time_base)
            for p in container.demux(stream)
            if p.size
        )
    assert end == pytest.approx(0.5, abs=0.03)


def test_vid2vid_output_rate_and_length(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=24, rate=Fraction(24))
    halved = RecordingBackend()
    cut = RecordingBackend()

    render_job(_spec(source=source, fps=Fraction(12)), tmp_path / "a", halved)
    render_job(_spec(source=source, length=0.25), tmp_path / "b", cut)

    assert [call.index for call in halved.calls] == list(range(0, 24, 2))
    assert len(cut.calls) == 6


def test_vid2vid_color_match_reduces_flicker(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=6)

    plain = render_job(
        _spec(source=source), tmp_path / "a", RecordingBackend(brighten=12)
    )
    matched = render_job(
        _spec(source=source, color_match=True),
        tmp_path / "b",
        RecordingBackend(brighten=12),
    )

    plain_last = load_png(plain.last_frame).mean()
    matched_last = load_png(matched.last_frame).mean()
    assert matched_last < plain_last - 20


def test_vid2vid_cancel_stops_within_a_frame(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=12)
    backend = RecordingBackend()

    with pytest.raises(RenderCancelled) as raised:
        render_job(
            _spec(source=source),
            tmp_path / "out",
            backend,
            should_cancel=lambda: len(backend.calls) >= 3,
        )

    assert raised.value.frames_rendered == 3
    assert len(backend.calls) == 3
    assert not (tmp_path / "out" / "video.mp4").exists()
    assert not (tmp_path / "out" / "video.frames.mp4").exists()


def test_vid2vid_without_source_fails(tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match="needs a source"):
        render_job(_spec(), tmp_path / "out", RecordingBackend())


def test_vid2vid_still_source(tmp_path: Path) -> None:
    still = write_still(tmp_path / "photo.png", width=64, height=48)

    outputs = render_job(
        _spec(source=still, fps=Fraction(24)), tmp_path / "out", RecordingBackend()
    )

    assert outputs.frames_rendered == 1
    assert outputs.video is not None
    assert _frame_count(outputs.video) == 1


def test_vid2vid_size_from_rotated_source(tmp_path: Path) -> None:
    source = set_mp4_rotation(
        write_video(tmp_path / "phone.mp4", frames=3, width=96, height=64), 90
    )

    outputs = render_job(
        _spec(source=source, width=None, height=None, max_side=64),
        tmp_path / "out",
        RecordingBackend(),
    )

    assert (outputs.width, outputs.height) == (40, 64)


def test_vid2vid_with_preview_backend(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=6)

    outputs = render_job(_spec(source=source), tmp_path / "out", PreviewBackend())

    assert outputs.backend.startswith("preview")
    assert outputs.video is not None
    assert _frame_count(outputs.video) == 6


# --- Deforum ----------------------------------------------------------------------


def _deforum(**overrides: Any) -> RenderSpec:
    values: dict[str, Any] = {
        "generator": "deforum",
        "fps": Fraction(10),
        "denoising": 0.4,
        "deforum": {"zoom": "0:(1.02)", "noise_schedule": "0:(0)"},
    }
    values.update(overrides)
    return _spec(**values)


def test_deforum_preview_frames_and_motion(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    backend = RecordingBackend()

    outputs = render_job(
        _deforum(source=still, render="preview", frame_count=5),
        tmp_path / "out",
        backend,
    )

    assert len(backend.calls) == 5
    assert backend.calls[0].denoising == pytest.approx(0.4)
    assert [call.denoising for call in backend.calls[1:]] == pytest.approx([0.4] * 4)
    assert [call.seed for call in backend.calls] == [7, 8, 9, 10, 11]
    assert outputs.video is not None
    assert _frame_count(outputs.video) == 5
    assert sorted(outputs.applied_steering, key=int) == ["0", "1", "2", "3", "4"]
    assert outputs.applied_steering["3"]["zoom"] == pytest.approx(1.02)
    assert outputs.applied_steering["3"]["diffused"] is True


def test_deforum_cadence_diffuses_every_nth(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    backend = RecordingBackend()
    settings = {"zoom": "0:(1.02)", "diffusion_cadence": "2", "noise_schedule": "0:(0)"}

    outputs = render_job(
        _deforum(source=still, frame_count=5, deforum=settings),
        tmp_path / "out",
        backend,
    )

    diffused = [outputs.applied_steering[str(i)]["diffused"] for i in range(5)]
    assert diffused == [True, False, True, False, True]
    assert len(backend.calls) == 3


def test_deforum_frames_from_length_and_fps(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)

    outputs = render_job(
        _deforum(source=still, length=1.0, fps=Fraction(24000, 1001)),
        tmp_path / "out",
        PreviewBackend(),
    )

    assert outputs.frames_rendered == 24  # round(1.0 x 23.976)
    assert outputs.fps == Fraction(24000, 1001)
    assert outputs.video is not None
    assert probe(outputs.video).fps == Fraction(24000, 1001)


def test_deforum_soundtrack_cut_to_length(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    soundtrack = write_audio(tmp_path / "track.wav", seconds=5)

    outputs = render_job(
        _deforum(source=still, length=0.5, soundtrack=soundtrack),
        tmp_path / "out",
        RecordingBackend(),
    )

    assert outputs.has_audio
    assert outputs.video is not None
    assert probe(outputs.video).duration == pytest.approx(0.5)


def test_deforum_source_video_audio_kept(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=24, audio_codec="aac")

    outputs = render_job(
        _deforum(source=source, length=0.5), tmp_path / "out", RecordingBackend()
    )

    assert outputs.has_audio


def test_deforum_steering_applied_per_frame(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    backend = RecordingBackend()
    live: dict[str, Any] = {}

    def steering() -> dict[str, Any]:
        if len(backend.calls) >= 2:
            live.update(
                {
                    "translation_x": 5,
                    "strength": 0.9,
                    "use_live_strength": True,
                    "positive_prompt": "a storm",
                    "use_live_prompt": True,
                }
            )
        return live

    outputs = render_job(
        _deforum(source=still, frame_count=4),
        tmp_path / "out",
        backend,
        get_steering=steering,
    )

    assert [call.prompt for call in backend.calls] == [
        "a lighthouse",
        "a lighthouse",
        "a storm",
        "a storm",
    ]
    assert backend.calls[3].denoising == pytest.approx(0.1)
    assert outputs.applied_steering["3"]["translation_x"] == 5
    assert outputs.applied_steering["3"]["steering"]["use_live_strength"] is True
    assert "steering" not in outputs.applied_steering["1"]


def test_deforum_live_seed_restarts_sequence(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    backend = RecordingBackend()

    def steering() -> dict[str, Any]:
        return {"seed": 100} if len(backend.calls) >= 2 else {}

    render_job(
        _deforum(source=still, frame_count=4),
        tmp_path / "out",
        backend,
        get_steering=steering,
    )

    assert [call.seed for call in backend.calls] == [7, 8, 100, 101]


def test_deforum_prompts_by_frame(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    backend = RecordingBackend()
    settings = {
        "prompts": {"0": "dawn", "max_f-1": "dusk --neg rain"},
        "noise_schedule": "0:(0)",
    }

    render_job(
        _deforum(source=still, frame_count=3, deforum=settings, negative_prompt="text"),
        tmp_path / "out",
        backend,
    )

    assert [(call.prompt, call.negative_prompt) for call in backend.calls] == [
        ("dawn", "text"),
        ("dusk", "rain, text"),  # max_f - 1 = 1 with frames 0-2
        ("dusk", "rain, text"),
    ]


def test_deforum_reports_ignored_settings(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    settings = {"zoom": "0:(1.01)", "sampler": "Euler a", "use_depth_warping": True}

    outputs = render_job(
        _deforum(source=still, frame_count=2, deforum=settings),
        tmp_path / "out",
        RecordingBackend(),
    )

    assert outputs.ignored_settings == ["sampler", "use_depth_warping"]
    assert outputs.metadata()["ignored_settings"] == ["sampler", "use_depth_warping"]


def test_deforum_invalid_settings_fail_first(tmp_path: Path) -> None:
    backend = RecordingBackend()

    with pytest.raises(SettingsError, match="zoom"):
        render_job(_deforum(deforum={"zoom": "0:(1/)"}), tmp_path / "out", backend)

    assert backend.calls == []


def test_deforum_without_source_starts_from_noise(tmp_path: Path) -> None:
    backend = RecordingBackend()

    render_job(_deforum(frame_count=2), tmp_path / "out", backend)

    assert backend.calls[0].denoising == 1.0


def test_deforum_cancel_before_next_frame(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    backend = RecordingBackend()
    seen: list[Progress] = []

    with pytest.raises(RenderCancelled) as raised:
        render_job(
            _deforum(source=still, frame_count=10),
            tmp_path / "out",
            backend,
            on_progress=seen.append,
            should_cancel=lambda: len(seen) >= 1,
        )

    assert raised.value.frames_rendered == 1
    assert len(backend.calls) == 1


def test_deforum_extension_appends_to_base(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)
    soundtrack = write_audio(tmp_path / "track.wav", seconds=3)
    base = render_job(
        _deforum(source=still, frame_count=4, soundtrack=soundtrack),
        tmp_path / "base",
        PreviewBackend(),
    )
    assert base.video is not None
    backend = RecordingBackend()

    outputs = render_job(
        _deforum(
            frame_count=3,
            extend_from=ExtendFrom(base.video, base.last_frame, base.frame_count),
        ),
        tmp_path / "extension",
        backend,
    )

    assert outputs.video is not None
    info = probe(outputs.video)
    assert info.frame_count == 7
    assert outputs.frame_count == 7
    assert outputs.frames_rendered == 3
    assert info.has_audio
    assert [outputs.applied_steering[str(i)]["t"] for i in range(3)] == [4, 5, 6]
    last_base = load_png(base.last_frame).astype(float)
    assert abs(backend.calls[0].mean - last_base.mean()) < 10
    assert (outputs.width, outputs.height) == (base.width, base.height)


def test_deforum_extension_without_last_frame_png(tmp_path: Path) -> None:
    base_video = write_video(tmp_path / "base.mp4", frames=5, rate=Fraction(10))
    backend = RecordingBackend()

    outputs = render_job(
        _deforum(frame_count=2, extend_from=ExtendFrom(base_video)),
        tmp_path / "out",
        backend,
    )

    assert outputs.frame_count == 7
    assert backend.calls[0].index == pytest.approx(4, abs=1)


def test_deforum_eases_live_motion(tmp_path: Path) -> None:
    still = write_still(tmp_path / "init.png", width=64, height=48)

    outputs = render_job(
        _deforum(source=still, frame_count=5, deforum={"noise_schedule": "0:(0)"}),
        tmp_path / "out",
        RecordingBackend(),
        get_steering=lambda: {"translation_x": 8, "ease_frames": 4},
    )

    moves = [outputs.applied_steering[str(i)]["translation_x"] for i in range(5)]
    assert moves == pytest.approx([2, 4, 6, 8, 8])


def test_deforum_extension_preview_has_new_frames_only(tmp_path: Path) -> None:
    base_video = write_video(
        tmp_path / "base.mp4", frames=5, rate=Fraction(10), audio_codec="aac"
    )

    outputs = render_job(
        _deforum(
            render="preview",
            frame_count=3,
            fps=Fraction(24),
            extend_from=ExtendFrom(base_video),
        ),
        tmp_path / "out",
        RecordingBackend(),
    )

    assert outputs.frame_count == 3
    assert outputs.fps == 10  # the base video's rate wins
    assert not outputs.has_audio
