"""Compositions of source and generated clips, and joined videos."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from render_factories import write_still
from studio_factories import (
    BLUE,
    close_to,
    decode_audio,
    decode_video,
    generated_frame,
    rms,
    source_frame,
    stream_facts,
    write_clip,
)

from mage_studio.render.errors import MediaError
from mage_studio.render.imaging import resize
from mage_studio.render.pipelines import RenderOutputs
from mage_studio.render.studio import StudioMedia, run_studio
from mage_studio.render.studio.compose import crossfade_weight, wipe_position
from mage_studio.render.studio.options import Crossfade, Wipe

WIDTH, HEIGHT, FRAMES, RATE = 64, 48, 12, Fraction(12)


@pytest.fixture
def clips(tmp_path: Path) -> tuple[Path, Path]:
    source = write_clip(tmp_path / "source.mp4", tone_hz=440)
    generated = write_clip(tmp_path / "generated.mp4", frame=generated_frame)
    return source, generated


def compose(
    tmp_path: Path, clips: tuple[Path, Path], options: dict[str, Any]
) -> RenderOutputs:
    source, generated = clips
    return run_studio(
        "1",
        "composition",
        options,
        StudioMedia((generated,), source=source),
        tmp_path / "out",
    )


def frames_of(outputs: RenderOutputs) -> list[np.ndarray]:
    assert outputs.video is not None
    return decode_video(outputs.video)


def test_side_by_side_halves_match_inputs(
    tmp_path: Path, clips: tuple[Path, Path]
) -> None:
    outputs = compose(tmp_path, clips, {"layout": "side-by-side"})

    frames = frames_of(outputs)
    assert len(frames) == FRAMES
    assert frames[0].shape == (HEIGHT, 2 * WIDTH, 3)
    for index in (0, 6, 11):
        assert close_to(frames[index][:, :WIDTH], source_frame(index, WIDTH, HEIGHT))
        assert close_to(frames[index][:, WIDTH:], generated_frame(index, WIDTH, HEIGHT))


def test_side_by_side_order_and_gap(tmp_path: Path, clips: tuple[Path, Path]) -> None:
    outputs = compose(
        tmp_path,
        clips,
        {
            "layout": "side-by-side",
            "sideBySide": {
                "order": "generated-first",
                "gap": 7,
                "gapColor": "#ffffff",
            },
        },
    )

    frame = frames_of(outputs)[0]
    assert frame.shape[1] == 2 * WIDTH + 8  # an odd gap grows to keep the width even
    assert close_to(frame[:, :WIDTH], generated_frame(0, WIDTH, HEIGHT))
    assert frame[8:40, WIDTH + 2 : WIDTH + 6].mean() > 230
    assert close_to(frame[:, WIDTH + 8 :], source_frame(0, WIDTH, HEIGHT))


def test_wipe_position_moves_and_eases() -> None:
    moving = Wipe(period=4.0)

    assert wipe_position(moving, 0.0) == pytest.approx(1.0)
    assert wipe_position(moving, 1.0) == pytest.approx(0.5)
    assert wipe_position(moving, 2.0) == pytest.approx(0.0)
    assert wipe_position(moving, 4.0) == pytest.approx(1.0)
    assert wipe_position(Wipe(divider="fixed", position=0.3), 2.0) == 0.3


def divider_column(frame: np.ndarray) -> int:
    """Column where the frame turns from the source (gray) to the generated (blue)."""
    row = frame[HEIGHT // 4 + 2 : HEIGHT // 2 - 2].astype(int).mean(axis=0)
    blue = row[:, 2] - row[:, 0]
    return int(np.argmax(blue > 80)) if (blue > 80).any() else WIDTH


def test_wipe_divider_moves(tmp_path: Path, clips: tuple[Path, Path]) -> None:
    outputs = compose(
        tmp_path,
        clips,
        {"layout": "wipe", "wipe": {"period": 2.0, "lineWidth": 0}},
    )

    frames = frames_of(outputs)
    columns = [divider_column(frame) for frame in frames]
    assert columns[0] == WIDTH  # starts showing only the source
    assert columns[6] == pytest.approx(
        WIDTH * wipe_position(Wipe(period=2), 0.5), abs=3
    )
    assert columns[0] > columns[3] > columns[6] > columns[9] > columns[11]


def test_wipe_fixed_vertical_with_line(
    tmp_path: Path, clips: tuple[Path, Path]
) -> None:
    outputs = compose(
        tmp_path,
        clips,
        {
            "layout": "wipe",
            "wipe": {
                "direction": "vertical",
                "divider": "fixed",
                "position": 0.5,
                "lineWidth": 4,
                "lineColor": "#ff00ff",
            },
        },
    )

    frame = frames_of(outputs)[3]
    line = frame[HEIGHT // 2 - 1 : HEIGHT // 2 + 1].astype(int)
    assert line[..., 0].mean() > 200
    assert line[..., 1].mean() < 60
    assert line[..., 2].mean() > 200
    assert close_to(
        frame[: HEIGHT // 2 - 3], source_frame(3, WIDTH, HEIGHT)[: HEIGHT // 2 - 3]
    )
    assert close_to(
        frame[HEIGHT // 2 + 3 :], generated_frame(3, WIDTH, HEIGHT)[HEIGHT // 2 + 3 :]
    )


def test_crossfade_weight() -> None:
    fade = Crossfade(start=1.0, seconds=2.0)

    assert crossfade_weight(fade, 0.5) == 0.0
    assert crossfade_weight(fade, 2.0) == 0.5
    assert crossfade_weight(fade, 3.5) == 1.0


def test_crossfade_from_source_to_generated(
    tmp_path: Path, clips: tuple[Path, Path]
) -> None:
    outputs = compose(
        tmp_path, clips, {"layout": "crossfade", "crossfade": {"seconds": 0.5}}
    )

    frames = frames_of(outputs)
    assert close_to(frames[0], source_frame(0, WIDTH, HEIGHT))
    assert close_to(frames[-1], generated_frame(FRAMES - 1, WIDTH, HEIGHT))
    middle = frames[3][HEIGHT // 2 :, : WIDTH // 2].astype(int).mean(axis=(0, 1))
    source_part = source_frame(3, WIDTH, HEIGHT)[HEIGHT // 2 :, : WIDTH // 2]
    expected = (source_part.mean(axis=(0, 1)) + np.array(BLUE)) / 2
    assert np.abs(middle - expected).max() < 12


def test_picture_in_picture(tmp_path: Path, clips: tuple[Path, Path]) -> None:
    outputs = compose(
        tmp_path,
        clips,
        {
            "layout": "pip",
            "pip": {"corner": "top-left", "scale": 0.5, "margin": 0, "border": 0},
        },
    )

    frame = frames_of(outputs)[5]
    inset = frame[:24, :32]
    expected = resize(source_frame(5, WIDTH, HEIGHT), 32, 24)
    assert close_to(inset, expected)
    assert close_to(frame[24:, :], generated_frame(5, WIDTH, HEIGHT)[24:, :])


def test_picture_in_picture_border(tmp_path: Path, clips: tuple[Path, Path]) -> None:
    outputs = compose(
        tmp_path,
        clips,
        {
            "layout": "pip",
            "pip": {"corner": "bottom-right", "scale": 0.5, "margin": 0.1, "border": 2},
        },
    )

    frame = frames_of(outputs)[0]
    # Inset 32x24 with a 5 px margin: rows 19..42, columns 27..58.
    assert frame[20:41, 27:29].mean() > 220
    assert frame[41:43, 30:56].mean() > 220


def test_composition_audio_choice(tmp_path: Path, clips: tuple[Path, Path]) -> None:
    with_source_audio = compose(
        tmp_path / "a", clips, {"layout": "crossfade", "audio": "source"}
    )
    without_audio = compose(tmp_path / "b", clips, {"layout": "crossfade"})

    assert with_source_audio.has_audio
    assert with_source_audio.video is not None
    seconds = decode_audio(with_source_audio.video).shape[1] / 48000
    assert seconds == pytest.approx(1.0, abs=1 / 12)
    assert not without_audio.has_audio  # the generated clip has no audio


def test_composition_with_still_source(tmp_path: Path) -> None:
    still = write_still(tmp_path / "still.png", width=64, height=48)
    generated = write_clip(tmp_path / "generated.mp4", frame=generated_frame)

    outputs = run_studio(
        "1",
        "composition",
        {"layout": "side-by-side"},
        StudioMedia((generated,), source=still),
        tmp_path / "out",
    )

    frames = frames_of(outputs)
    assert len(frames) == FRAMES
    assert close_to(frames[0][:, :WIDTH], frames[-1][:, :WIDTH], tolerance=4)


def test_composition_max_height(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "s.mp4", width=128, height=96)
    generated = write_clip(tmp_path / "g.mp4", width=128, height=96)

    outputs = run_studio(
        "1",
        "composition",
        {"layout": "side-by-side", "maxHeight": 48 * 3},
        StudioMedia((generated,), source=source),
        tmp_path / "out",
    )

    assert (outputs.width, outputs.height) == (256, 96)  # never scaled up


def test_composition_needs_source(tmp_path: Path, clips: tuple[Path, Path]) -> None:
    with pytest.raises(MediaError, match="source upload"):
        run_studio(
            "1",
            "composition",
            {"layout": "wipe"},
            StudioMedia((clips[1],)),
            tmp_path / "out",
        )


def test_concat_reconciles_size_rate_and_audio(tmp_path: Path) -> None:
    first = write_clip(tmp_path / "a.mp4", frames=12, rate=Fraction(12), tone_hz=440)
    second = write_clip(  # portrait, 24 fps, no audio: 10 frames at 12 fps
        tmp_path / "b.mp4",
        frame=generated_frame,
        width=48,
        height=64,
        frames=20,
        rate=Fraction(24),
    )
    third = write_clip(tmp_path / "c.mp4", frames=6, rate=Fraction(12), tone_hz=440)

    outputs = run_studio(
        "1",
        "concat",
        {"background": "#ff0000"},
        StudioMedia((first, second, third)),
        tmp_path / "out",
    )

    assert outputs.video is not None
    facts = stream_facts(outputs.video)
    assert (facts["width"], facts["height"]) == (WIDTH, HEIGHT)
    assert facts["rate"] == 12
    assert facts["frames"] == 12 + 10 + 6
    frames = decode_video(outputs.video)
    assert close_to(frames[0], source_frame(0, WIDTH, HEIGHT))
    padded = frames[12]
    assert padded[:, :10].astype(int)[..., 0].mean() > 200  # red bars on the sides
    assert padded[:, :10].astype(int)[..., 1].mean() < 50

    audio = decode_audio(outputs.video)
    assert audio.shape[1] / 48000 == pytest.approx(28 / 12, abs=1 / 12)
    assert rms(audio[:, 4800:43200]) > 0.1  # first part: tone
    assert rms(audio[:, 52000:86000]) < 0.01  # second part: silence
    assert rms(audio[:, 98000:108000]) > 0.1  # third part: tone again


def test_concat_custom_rate_and_height(tmp_path: Path) -> None:
    first = write_clip(tmp_path / "a.mp4", width=128, height=96, frames=12)
    second = write_clip(tmp_path / "b.mp4", width=128, height=96, frames=12)

    outputs = run_studio(
        "1",
        "concat",
        {"fps": 6, "maxHeight": 144},
        StudioMedia((first, second)),
        tmp_path / "out",
    )

    assert outputs.video is not None
    facts = stream_facts(outputs.video)
    assert (facts["width"], facts["height"]) == (128, 96)
    assert facts["rate"] == 6
    assert facts["frames"] == 12
    assert facts["audio_codec"] is None
