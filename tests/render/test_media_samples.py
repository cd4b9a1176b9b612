"""Real-world media samples (skipped when MAGE_SAMPLES_DIR has no media folder)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
from render_factories import write_video

from mage_studio.render.errors import InvalidMedia, MediaError, UnsupportedMedia
from mage_studio.render.media import (
    AudioSource,
    iter_frames,
    mux_audio,
    probe,
    probe_audio,
    probe_upload,
    read_first_frame,
    sample_frames,
)

Locate = Callable[[str], Path]


def test_iphone_portrait_clip(sample_media: Locate) -> None:
    path = sample_media("iphone_rotated.mov")

    info = probe_upload(path)
    first = read_first_frame(path)

    assert (info.width, info.height) == (320, 568)
    assert info.rotation == 90
    assert info.fps == Fraction(30000, 1001)
    assert info.frame_count == 66
    assert info.has_audio
    assert info.audio_codec == "aac"
    assert info.mimetype == "video/quicktime"
    assert first.shape == (568, 320, 3)


def test_webm_without_duration_header(sample_media: Locate) -> None:
    path = sample_media("no_duration.webm")

    info = probe_upload(path)

    assert (info.width, info.height) == (1280, 720)
    assert info.frame_count == 74
    assert info.duration == pytest.approx(4.94, abs=0.05)
    assert info.variable_frame_rate
    assert info.video_codec == "vp9"
    assert info.audio_codec == "opus"
    assert info.mimetype == "video/webm"


def test_webm_samples_evenly(sample_media: Locate) -> None:
    path = sample_media("no_duration.webm")
    info = probe(path)

    samples = sample_frames(path, info, 4, size=(64, 32))

    assert [index for index, _ in samples] == [0, 24, 49, 73]
    assert samples[0][1].shape == (32, 64, 3)


def test_gif_odd_size(sample_media: Locate) -> None:
    info = probe_upload(sample_media("pigs_in_a_polka.gif"))

    assert info.kind == "gif"
    assert (info.width, info.height) == (314, 273)
    assert info.frame_count == 30
    assert info.fps == 10
    assert info.duration == pytest.approx(3.0)


def test_phone_photo(sample_media: Locate) -> None:
    info = probe_upload(sample_media("vacation_2017.jpg"))

    assert info.kind == "image"
    assert (info.width, info.height) == (2560, 1440)
    assert info.mimetype == "image/jpeg"


def test_quicktime_edit_list_odd_size(sample_media: Locate) -> None:
    path = sample_media("fixture.mov")

    info = probe_upload(path)
    frames = list(iter_frames(path, rate=info.fps, size=(64, 40)))

    assert (info.width, info.height) == (268, 156)
    assert info.frame_count == 5
    assert not info.has_audio
    assert len(frames) == 5


def test_audio_only_mov_rejected(sample_media: Locate) -> None:
    with pytest.raises(UnsupportedMedia, match="only audio"):
        probe_upload(sample_media("audio-only.mov"))


def test_index_without_sample_data_rejected(sample_media: Locate) -> None:
    with pytest.raises(InvalidMedia, match="no decodable frames"):
        probe_upload(sample_media("invalid_userdata.mp4"))


def test_broken_wav_rejected(sample_media: Locate) -> None:
    path = sample_media("broken-wav.wav")

    with pytest.raises(InvalidMedia):
        probe_audio(path)
    with pytest.raises(MediaError):
        probe_upload(path)


@pytest.mark.parametrize(
    ("name", "codec", "channels", "duration"),
    [
        ("test3.mp3", "mp3", 1, 8.33),
        ("test4.wav", "pcm_s16le", 1, 8.0),
        ("fixture.m4a", "aac", 2, 0.77),
    ],
)
def test_soundtrack_samples(
    sample_media: Locate, name: str, codec: str, channels: int, duration: float
) -> None:
    info = probe_audio(sample_media(name))

    assert info.codec == codec
    assert info.channels == channels
    assert info.duration == pytest.approx(duration, abs=0.02)


def test_soundtrack_sample_muxed_under_clip(
    sample_media: Locate, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "clip.mp4", frames=24)

    assert mux_audio(
        video, tmp_path / "out.mp4", AudioSource(sample_media("test3.mp3"))
    )
    assert probe(tmp_path / "out.mp4").audio_codec == "aac"
